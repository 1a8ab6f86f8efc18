// Test-only: outputs the call's Extism config value for the key given as input (a JSON string),
// or null when the config has no such key.
import { Config, Host } from '@extism/as-pdk'
import { outputText, quote } from '../json-out'
export { templateAbort } from '../abort'

export function read(): i32 {
  const value = Config.get(Host.inputString())
  outputText(value === null ? 'null' : quote(value))
  return 0
}
