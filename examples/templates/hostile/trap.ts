// Test-only: traps (unreachable) and aborts (an assertion failure).
export { templateAbort } from '../abort'

export function trap(): i32 {
  unreachable()
  return 0
}

export function fails(): i32 {
  assert(false, 'the template gave up')
  return 0
}
