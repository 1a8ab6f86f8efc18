import { DEFAULT_MAX_DEPTH, INSERTION_SORT_MAX } from './constants.js'
import { CanonicalizationError } from './errors.js'

/** Options for {@link canonicalize}. */
export interface CanonicalizeOptions {
  /** Deepest nesting accepted; deeper values (and cycles) throw. Default 512. */
  maxDepth?: number
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
/** Characters that JSON escapes, and surrogates (which must come in pairs). */
const NEEDS_CARE = /["\\\u0000-\u001f\uD800-\uDFFF]/

function pointerOf(path: readonly string[]): string {
  return path.length === 0 ? '' : `/${path.map((key) => key.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`
}

function serializeString(value: string, path: readonly string[]): string {
  // Most strings (ids, names, expressions) need no escaping: quote them as they are.
  if (!NEEDS_CARE.test(value)) return `"${value}"`
  if (LONE_SURROGATE.test(value)) {
    throw new CanonicalizationError('String holds a lone UTF-16 surrogate', pointerOf(path))
  }
  // ECMAScript's JSON string serialization is exactly the one RFC 8785 §3.2.2.2 prescribes.
  return JSON.stringify(value)
}

/**
 * An object's own enumerable property names in UTF-16 code-unit order (RFC 8785 §3.2.3), which is
 * how strings compare with `<` and how the default `Array.prototype.sort` orders them. A list
 * already in order is returned as it is (objects built with their keys in order skip the sort);
 * a short one is sorted in place by insertion, since the default sort allocates a work array per
 * call (the largest allocation of a webhook's digest).
 */
export function sortedKeys(record: object): string[] {
  const keys = Object.keys(record)
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i - 1] as string) <= (keys[i] as string)) continue
    if (keys.length > INSERTION_SORT_MAX) return keys.sort()
    for (let j = i; j < keys.length; j++) {
      const key = keys[j] as string
      let k = j - 1
      while (k >= 0 && (keys[k] as string) > key) {
        keys[k + 1] = keys[k] as string
        k--
      }
      keys[k + 1] = key
    }
    return keys
  }
  return keys
}

function serialize(value: unknown, depth: number, maxDepth: number, path: string[]): string {
  switch (typeof value) {
    case 'string':
      return serializeString(value, path)
    case 'number':
      if (!Number.isFinite(value)) {
        throw new CanonicalizationError('Number is not finite', pointerOf(path))
      }
      // RFC 8785 §3.2.2.3: the ECMAScript Number-to-String algorithm (-0 becomes 0).
      return value === 0 ? '0' : String(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object':
      break
    default:
      throw new CanonicalizationError(`A ${typeof value} has no JSON form`, pointerOf(path))
  }
  if (value === null) return 'null'
  if (depth >= maxDepth) {
    throw new CanonicalizationError(`Nesting deeper than ${maxDepth} (or a cycle)`, pointerOf(path))
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
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') {
    return serialize(toJSON.call(value), depth, maxDepth, path)
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Map || value instanceof Set) {
    throw new CanonicalizationError('Binary data, maps and sets have no JSON form', pointerOf(path))
  }
  const record = value as Record<string, unknown>
  const keys = sortedKeys(record)
  let out = '{'
  let first = true
  for (const key of keys) {
    const member = record[key]
    if (member === undefined) continue
    if (!first) out += ','
    first = false
    path.push(key)
    out += serializeString(key, path)
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
  // Buffer's UTF-8 encoder is several times faster than TextEncoder on Node for kilobyte strings.
  return Buffer.from(canonicalize(value, options), 'utf8')
}
