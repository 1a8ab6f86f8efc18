import { type Flow, flowHash, parseFlow } from '@qflow/flow-schema'
import { isMap, isScalar, type Node, parseDocument, stringify } from 'yaml'
import type { FlowSource } from './files.js'

const YAML_OPTIONS = { lineWidth: 0, flowCollectionPadding: false } as const

function jsonIndent(text: string): string | number {
  const match = /^\{[ \t]*\r?\n([ \t]+)"/.exec(text.replace(/^\uFEFF/, ''))
  return match?.[1] ?? 2
}

function holdsExactly(text: string, source: FlowSource, signed: Flow): boolean {
  try {
    const reparsed = parseFlow(text, { format: source.format }) as Flow
    return flowHash(reparsed) === flowHash(signed) && JSON.stringify(reparsed.signature) === JSON.stringify(signed.signature)
  } catch {
    return false
  }
}

/**
 * Puts the signature block into YAML text without touching anything else: the `signature:` pair
 * is replaced where it is, or appended to the top-level block mapping. `undefined` when the
 * document is not a block mapping (a flow-style `{ … }` document, say).
 */
function spliceSignature(text: string, signature: Flow['signature']): string | undefined {
  const doc = parseDocument(text, { version: '1.2' })
  const root = doc.contents
  if (doc.errors.length > 0 || !isMap(root) || root.flow === true) return undefined
  const firstKey = root.items[0]?.key as Node | undefined
  const lineStart = (offset: number): number => text.lastIndexOf('\n', offset - 1) + 1
  const indent = firstKey?.range === undefined || firstKey.range === null ? '' : text.slice(lineStart(firstKey.range[0]), firstKey.range[0])
  if (!/^[ ]*$/.test(indent)) return undefined
  const block = stringify({ signature }, YAML_OPTIONS)
    .trimEnd()
    .split('\n')
    .map((line, i) => (i === 0 ? line : indent + line))
    .join('\n')
  const existing = root.items.find((pair) => isScalar(pair.key) && pair.key.value === 'signature')
  if (existing !== undefined) {
    const start = (existing.key as Node).range?.[0]
    const end = (existing.value as Node | null)?.range?.[1]
    if (start === undefined || end === undefined) return undefined
    // the value's range may take in the line break after it: keep that
    const trailing = /\s*$/.exec(text.slice(start, end))?.[0] ?? ''
    return text.slice(0, start) + block + trailing + text.slice(end)
  }
  const body = text.length === 0 || text.endsWith('\n') ? text : `${text}\n`
  return `${body}${indent}${block}\n`
}

/**
 * The text of a signed flow in its source's format. YAML keeps the source text byte for byte
 * apart from the `signature` block (set in place, or appended); JSON keeps the member order and
 * indentation. The result is re-parsed and checked to hold exactly the signed flow; should a
 * layout not survive that, the flow is written out plainly instead.
 */
export function signedFlowText(source: FlowSource, signed: Flow): string {
  if (source.format === 'json') {
    return `${JSON.stringify(signed, null, jsonIndent(source.text))}\n`
  }
  const text = source.text.replace(/^\uFEFF/, '')
  const spliced = spliceSignature(text, signed.signature)
  if (spliced !== undefined && holdsExactly(spliced, source, signed)) return spliced
  const doc = parseDocument(text, { version: '1.2' })
  if (doc.errors.length === 0 && isMap(doc.contents)) {
    doc.set('signature', doc.createNode(signed.signature))
    const rewritten = doc.toString(YAML_OPTIONS)
    if (holdsExactly(rewritten, source, signed)) return rewritten
  }
  return stringify(signed, YAML_OPTIONS)
}
