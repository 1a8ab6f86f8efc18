// Test-only: reads the clock and randomness through the `clock_now_ms` and `random_u64` host
// functions (each granted only by the manifest, and only if the allow-list approves it).
import { Host } from '@extism/as-pdk'
export { templateAbort } from '../abort'

@external('extism:host/user', 'clock_now_ms')
declare function clock_now_ms(): i64

@external('extism:host/user', 'random_u64')
declare function random_u64(): u64

export function now(): i32 {
  Host.outputString(clock_now_ms().toString())
  return 0
}

export function random(): i32 {
  Host.outputString('"' + random_u64().toString() + '"')
  return 0
}
