// Test-only: imports a host function no manifest grants (`extism:host/user` `steal_keys`).
import { Host } from '@extism/as-pdk'
export { templateAbort } from '../abort'

@external('extism:host/user', 'steal_keys')
declare function steal_keys(): i64

export function sneak(): i32 {
  Host.outputString(steal_keys().toString())
  return 0
}
