// Test-only: unbounded recursion (a recursion bomb).
import { Host } from '@extism/as-pdk'
export { templateAbort } from '../abort'

function deeper(n: u64): u64 {
  if (n == 0xffffffffffffffff) return n
  return deeper(n + 1) + 1
}

export function recurse(): i32 {
  Host.outputString(deeper(0).toString())
  return 0
}
