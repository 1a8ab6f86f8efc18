/**
 * A copy of a value as plain data the log stores: `undefined` and functions become `null` (array
 * items and the value itself) or are left out (object members), bytes are kept as they are, and
 * arrays and objects are copied, so a later change to the original does not reach an execution's
 * state. Members are read with `for…in` (own ones only), not `Object.entries`, which allocated an
 * array per member; a `__proto__` member stays a member.
 */
export function plainData(value: unknown): unknown {
  if (value === undefined || typeof value === 'function') return null
  if (value === null || typeof value !== 'object') return value
  if (value instanceof Uint8Array) return value
  if (Array.isArray(value)) {
    const items: unknown[] = []
    for (let i = 0; i < value.length; i++) items.push(plainData(value[i]))
    return items
  }
  const record = value as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue
    const member = record[key]
    if (member === undefined || typeof member === 'function') continue
    if (key === '__proto__') Object.defineProperty(out, key, { value: plainData(member), enumerable: true, writable: true, configurable: true })
    else out[key] = plainData(member)
  }
  return out
}
