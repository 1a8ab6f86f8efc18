import { DEFAULT_MAX_DEPTH } from './constants.js'
import { CanonicalizationError } from './errors.js'

/** Options for {@link canonicalize}. */
export interface CanonicalizeOptions {
  /** Deepest nesting accepted; deeper values (and cycles) throw. Default 512. */
  maxDepth?: number
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

const encoder = new TextEncoder()

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1')
}

function serializeString(value: string, pointer: () => string): string {
  if (LONE_SURROGATE.test(value)) {
    throw new CanonicalizationError('String holds a lone UTF-16 surrogate', pointer())
  }
  // ECMAScript's JSON string serialization is exactly the one RFC 8785 §3.2.2.2 prescribes.
  return JSON.stringify(value)
}

function serialize(value: unknown, depth: number, maxDepth: number, path: string[]): string {
  const pointer = (): string => (path.length === 0 ? '' : `/${path.map(escapePointer).join('/')}`)
  switch (typeof value) {
    case 'string':
      return serializeString(value, pointer)
    case 'number':
      if (!Number.isFinite(value)) {
        throw new CanonicalizationError('Number is not finite', pointer())
      }
      // RFC 8785 §3.2.2.3: the ECMAScript Number-to-String algorithm (-0 becomes 0).
      return value === 0 ? '0' : String(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object':
      break
    default:
      throw new CanonicalizationError(`A ${typeof value} has no JSON form`, pointer())
  }
  if (value === null) return 'null'
  if (depth >= maxDepth) {
    throw new CanonicalizationError(`Nesting deeper than ${maxDepth} (or a cycle)`, pointer())
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') {
    return serialize(toJSON.call(value), depth, maxDepth, path)
  }
  if (Array.isArray(value)) {
    let out = '['
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ','
      path.push(String(i))
      out += serialize(value[i], depth + 1, maxDepth, path)
      path.pop()
    }
    return `${out}]`
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Map || value instanceof Set) {
    throw new CanonicalizationError('Binary data, maps and sets have no JSON form', pointer())
  }
  const record = value as Record<string, unknown>
  // RFC 8785 §3.2.3: properties sorted by their names' UTF-16 code units, which is what the
  // default Array.prototype.sort comparison does.
  const keys = Object.keys(record).sort()
  let out = '{'
  let first = true
  for (const key of keys) {
    const member = record[key]
    if (member === undefined) continue
    if (!first) out += ','
    first = false
    path.push(key)
    out += serializeString(key, pointer)
    out += ':'
    out += serialize(member, depth + 1, maxDepth, path)
    path.pop()
  }
  return `${out}}`
}

/**
 * Serializes a JSON value by the JSON Canonicalization Scheme (RFC 8785): the same value gives
 * the same string whatever its key order or original formatting. Object members whose value is
 * `undefined` are left out, as `JSON.stringify` does.
 *
 * @throws {@link CanonicalizationError} on values JSON cannot hold, lone surrogates and nesting past `maxDepth`.
 */
export function canonicalize(value: unknown, options: CanonicalizeOptions = {}): string {
  return serialize(value, 0, options.maxDepth ?? DEFAULT_MAX_DEPTH, [])
}

/** The UTF-8 bytes of {@link canonicalize}'s output: what Qflow hashes and signs. */
export function canonicalBytes(value: unknown, options: CanonicalizeOptions = {}): Uint8Array {
  return encoder.encode(canonicalize(value, options))
}
