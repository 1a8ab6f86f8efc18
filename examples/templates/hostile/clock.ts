// Test-only: reads the clock through the `clock_now_ms` host function (granted only by the manifest).
import { Host } from '@extism/as-pdk'
export { templateAbort } from '../abort'

@external('extism:host/user', 'clock_now_ms')
declare function clock_now_ms(): i64

export function now(): i32 {
  Host.outputString(clock_now_ms().toString())
  return 0
}
