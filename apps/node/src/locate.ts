import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml'

/** A 1-based line and column in a source text. */
export interface SourcePosition {
  /** Line number, starting at 1. */
  line: number
  /** Column number (in UTF-16 code units), starting at 1. */
  column: number
}

/** Finds where a JSON pointer into a parsed document sits in that document's source text. */
export type PointerLocator = (pointer: string) => SourcePosition

function unescapeSegment(segment: string): string {
  return segment.replaceAll('~1', '/').replaceAll('~0', '~')
}

/** Splits an RFC 6901 JSON pointer into its unescaped reference tokens (`''` is the root). */
export function pointerSegments(pointer: string): string[] {
  if (pointer === '' || pointer === '#') return []
  const body = pointer.startsWith('#') ? decodeURIComponent(pointer.slice(1)) : pointer
  return body.replace(/^\//, '').split('/').map(unescapeSegment)
}

function scalarKey(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value)
  return typeof key === 'string' || typeof key === 'number' ? String(key) : undefined
}

/**
 * Builds a {@link PointerLocator} over a JSON or YAML source text (JSON is read as YAML, which
 * it nearly always is). A pointer resolves to its member's key (`url:` in `with: { url: … }`),
 * to the start of an array item, or — when the pointer goes past what exists, as it does for a
 * missing required member — to the deepest part of it that does exist. Text that does not parse
 * locates everything at 1:1.
 */
export function pointerLocator(text: string): PointerLocator {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, keepSourceTokens: false, uniqueKeys: false })
  const position = (offset: number | undefined): SourcePosition => {
    if (offset === undefined) return { line: 1, column: 1 }
    const { line, col } = lineCounter.linePos(offset)
    return { line, column: col }
  }
  const resolve = (node: unknown): unknown => (isAlias(node) ? node.resolve(doc) : node)

  return (pointer) => {
    let node = resolve(doc.contents)
    let offset = (node as Node | null)?.range?.[0]
    for (const segment of pointerSegments(pointer)) {
      if (isMap(node)) {
        const pair = node.items.find((item) => isPair(item) && scalarKey(item.key) === segment)
        if (pair === undefined) break
        offset = (pair.key as Node | null)?.range?.[0] ?? offset
        node = resolve(pair.value)
      } else if (isSeq(node)) {
        const index = /^(0|[1-9][0-9]*)$/.test(segment) ? Number(segment) : -1
        const item = resolve(node.items[index])
        if (item === undefined || item === null) break
        offset = (item as Node).range?.[0] ?? offset
        node = item
      } else {
        break
      }
    }
    return position(offset)
  }
}
