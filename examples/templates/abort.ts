// Shared by every template: Extism provides no `env.abort`, so AssemblyScript's abort is routed
// here (`--use abort=abort/templateAbort`). The message goes to the host through error_set, then
// the call traps.
import { error_set } from '@extism/as-pdk/lib/env'
import { Memory } from '@extism/as-pdk'

export function templateAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  const text = (message === null ? 'abort' : message) + ' at ' + (fileName === null ? '?' : fileName) + ':' + line.toString() + ':' + column.toString()
  error_set(Memory.allocateString(text).offset)
  unreachable()
}

/** Reports a guest error the host turns into a typed error, and returns the failing exit code. */
export function fail(message: string): i32 {
  error_set(Memory.allocateString(message).offset)
  return 1
}
