// Test-only: answers with a 64 MiB output.
import { Host } from '@extism/as-pdk'
export { templateAbort } from '../abort'

export function flood(): i32 {
  Host.output(new Uint8Array(64 << 20))
  return 0
}
