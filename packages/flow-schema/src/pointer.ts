/** Escapes one reference token of a JSON pointer (RFC 6901 §3). */
export function escapePointerToken(token: string | number): string {
  const text = String(token)
  return text.includes('~') || text.includes('/') ? text.replaceAll('~', '~0').replaceAll('/', '~1') : text
}

/** Builds a JSON pointer (RFC 6901) from reference tokens: `jsonPointer(['steps', 0, 'id'])` is `/steps/0/id`. */
export function jsonPointer(tokens: readonly (string | number)[]): string {
  let out = ''
  for (const token of tokens) out += `/${escapePointerToken(token)}`
  return out
}

/** Splits a JSON pointer into its unescaped reference tokens. */
export function parseJsonPointer(pointer: string): string[] {
  if (pointer === '') return []
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'))
}

/** The value a JSON pointer designates in `doc`, or `undefined`. */
export function resolveJsonPointer(doc: unknown, pointer: string): unknown {
  let node = doc
  for (const token of parseJsonPointer(pointer)) {
    if (node === null || typeof node !== 'object') return undefined
    if (!Object.hasOwn(node, token)) return undefined
    node = (node as Record<string, unknown>)[token]
  }
  return node
}
