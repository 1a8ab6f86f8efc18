// Test-only: an infinite loop (never returns).
import { Host } from '@extism/as-pdk'
export { templateAbort } from '../abort'

let counter: u64 = 0
export function spin(): i32 {
  while (true) {
    counter++
    if (counter == 0) break
  }
  Host.outputString(counter.toString())
  return 0
}
