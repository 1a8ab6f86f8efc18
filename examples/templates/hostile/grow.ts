// Test-only: grows memory forever, by memory.grow and by allocation.
export { templateAbort } from '../abort'

const kept: Array<Uint8Array> = []
export function allocate(): i32 {
  while (true) kept.push(new Uint8Array(1 << 20))
  return 0
}

export function grow(): i32 {
  while (true) {
    if (memory.grow(16) < 0) unreachable()
  }
  return 0
}
