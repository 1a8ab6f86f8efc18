import { DEFAULT_MAX_ALIAS_EXPANSION, DEFAULT_MAX_ALIASES, DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH } from './constants.js'
import { FlowParseError, type FlowFormat } from './errors.js'
import { parseStrictJson } from './json-parser.js'
import { BAIL, parseYamlFast } from './yaml-fast.js'
import { parseYamlDocument } from './yaml-document.js'

/** Options of {@link parseFlow}. */
export interface ParseFlowOptions {
  /** Syntax of the text; `auto` (default) reads JSON when the text starts with `{` or `[`, else YAML. */
  format?: FlowFormat | 'auto'
  /** Largest document accepted, UTF-8 bytes. Default {@link DEFAULT_MAX_BYTES} (16 MiB). */
  maxBytes?: number
  /** Most YAML alias nodes. Default {@link DEFAULT_MAX_ALIASES} (100). */
  maxAliases?: number
  /** Most nodes YAML alias expansion may add. Default {@link DEFAULT_MAX_ALIAS_EXPANSION} (10,000). */
  maxAliasExpansion?: number
  /** Deepest nesting of objects and arrays. Default {@link DEFAULT_MAX_DEPTH} (256). */
  maxDepth?: number
}

function firstSignificant(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r' && c !== '\ufeff') return c
  }
  return undefined
}

/** The syntax {@link parseFlow} would read `text` as in `auto` mode. */
export function detectFlowFormat(text: string): FlowFormat {
  const c = firstSignificant(text)
  return c === '{' || c === '[' ? 'json' : 'yaml'
}

function utf8Length(text: string, limit: number): number {
  // UTF-8 needs at least one byte and at most three per UTF-16 unit
  if (text.length > limit || text.length * 3 <= limit) return text.length
  return Buffer.byteLength(text, 'utf8')
}

/**
 * Parses a flow document from JSON or YAML 1.2 text into plain JSON values (not yet validated:
 * pass the result to {@link validateFlow}). Duplicate keys are rejected in both syntaxes, nesting
 * and size are bounded, and YAML alias expansion is bounded so that a "billion laughs" document
 * fails fast. A leading byte order mark is ignored.
 *
 * @throws {@link FlowParseError} with the line and column of the problem.
 */
export function parseFlow(text: string, options: ParseFlowOptions = {}): unknown {
  if (typeof text !== 'string') throw new FlowParseError('Flow document must be a string', { code: 'syntax' })
  const format = options.format === undefined || options.format === 'auto' ? detectFlowFormat(text) : options.format
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES
  if (utf8Length(text, maxBytes) > maxBytes) {
    throw new FlowParseError(`Document is larger than ${maxBytes} bytes`, { format, code: 'too-large' })
  }
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH
  if (format === 'json') return parseStrictJson(source, { maxDepth })
  const fast = parseYamlFast(source)
  if (fast !== BAIL && depthWithin(fast, maxDepth)) return fast
  return parseYamlDocument(source, {
    maxDepth,
    maxAliases: options.maxAliases ?? DEFAULT_MAX_ALIASES,
    maxAliasExpansion: options.maxAliasExpansion ?? DEFAULT_MAX_ALIAS_EXPANSION
  })
}

/** Whether a value from the fast path (which nests at most 64 deep) is within `maxDepth`. */
function depthWithin(value: unknown, maxDepth: number): boolean {
  if (maxDepth >= 64) return true
  const stack: [unknown, number][] = [[value, 0]]
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number]
    if (v === null || typeof v !== 'object') continue
    if (d >= maxDepth) return false
    for (const child of Object.values(v)) stack.push([child, d + 1])
  }
  return true
}
