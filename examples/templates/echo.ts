// The trivial template: returns its input unchanged.
import { Host } from '@extism/as-pdk'
export { templateAbort } from './abort'

export function echo(): i32 {
  Host.output(Host.input())
  return 0
}
