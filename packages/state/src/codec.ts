import { hash } from 'node:crypto'
import * as dagJson from '@ipld/dag-json'
import { sortedKeys } from '@qflow/canonical-json'
import { CID } from 'multiformats/cid'
import { create as createDigest, equals as digestEquals } from 'multiformats/hashes/digest'
import { PLAIN_JSON_MAX_DEPTH } from './constants.js'

/** Multihash code of sha2-256. */
const SHA2_256 = 0x12

/** A dag-json block: its CID (v1, sha2-256) and bytes. */
export interface Block {
  readonly cid: CID
  readonly bytes: Uint8Array
}

/** The multicodec code of dag-json. */
export const DAG_JSON_CODE = dagJson.code

const encoder = new TextEncoder()
const decoder = new TextDecoder()
/** Printable ASCII without `"` and `\`: strings JSON.stringify and dag-json write the same way, unescaped. */
const PLAIN_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/
/** ASCII: strings whose code-unit order is their byte order. */
const ASCII = /^[\x00-\x7f]*$/

function sha256(bytes: Uint8Array): Uint8Array {
  return hash('sha256', bytes, 'buffer')
}

function base64NoPad(bytes: Uint8Array): string {
  const s = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
  let end = s.length
  while (end > 0 && s.charCodeAt(end - 1) === 61) end--
  return s.slice(0, end)
}

/**
 * Writes `value` as dag-json text when it only holds what the fast path knows to write exactly as
 * `@ipld/dag-json` does (any string, ASCII keys, safe integers, finite non-integers, booleans,
 * null, arrays, plain objects, bytes and CIDs); returns `undefined` otherwise (-0, integers past
 * 2^53, non-ASCII keys, other objects). dag-json's own encoder costs
 * ~0.1 ms for a 2 KB log entry here, this ~10 µs; the bytes are identical (tested).
 */
function fastJson(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      // dag-json (cborg) writes strings exactly as JSON.stringify does.
      return PLAIN_STRING.test(value) ? `"${value}"` : JSON.stringify(value)
    case 'number':
      if (Number.isSafeInteger(value)) return Object.is(value, -0) ? undefined : String(value)
      // A finite non-integer: String() always has a '.' or an exponent, as dag-json writes floats.
      return Number.isFinite(value) && !Number.isInteger(value) ? String(value) : undefined
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object': {
      if (value === null) return 'null'
      if (value instanceof Uint8Array) return `{"/":{"bytes":"${base64NoPad(value)}"}}`
      if (Array.isArray(value)) {
        let out = '['
        for (let i = 0; i < value.length; i++) {
          const part = fastJson(value[i])
          if (part === undefined) return undefined
          out += i === 0 ? part : `,${part}`
        }
        return `${out}]`
      }
      const cid = CID.asCID(value)
      if (cid !== null) return `{"/":"${cid.toString()}"}`
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) return undefined
      return fastMembers(value as Record<string, unknown>, sortedKeys(value), 0, undefined)
    }
    default:
      return undefined
  }
}

/**
 * Writes the members `keys[from…]` of `record` (keys sorted, `undefined` members skipped) as an
 * object, or from `stopAt` on leaves the rest out and returns the text up to there without `}`.
 * Strings are built by concatenation (ropes), not through arrays and `join`: this runs for every
 * log entry and its garbage was a tenth of the engine's allocations.
 */
function fastMembers(record: Record<string, unknown>, keys: readonly string[], from: number, stopAt: string | undefined): string | undefined {
  let out = '{'
  let first = true
  for (let i = from; i < keys.length; i++) {
    const key = keys[i] as string
    const member = record[key]
    if (member === undefined) continue
    // ASCII keys only: sort() orders them as dag-json does (by bytes); others take the slow path.
    const name = PLAIN_STRING.test(key) ? `"${key}"` : ASCII.test(key) ? JSON.stringify(key) : undefined
    if (name === undefined) return undefined
    const part = fastJson(member)
    if (part === undefined) return undefined
    out += first ? `${name}:${part}` : `,${name}:${part}`
    first = false
  }
  return stopAt === undefined ? `${out}}` : out
}

/** dag-json's deterministic encoding of a value (map keys sorted): the bytes entries are signed over. */
export function canonicalBlockBytes(value: unknown): Uint8Array {
  const text = fastJson(value)
  return text === undefined ? dagJson.encode(value) : encoder.encode(text)
}

/**
 * Whether `JSON.stringify(value)` writes what {@link decodeBlock} reads back as `value` and
 * dag-json could hold: strings, booleans, null, safe integers (not -0), finite non-integers,
 * arrays without holes or `undefined`, plain objects (members that are `undefined` are left out,
 * as dag-json's encoder here leaves them) with no `/` key (which decoding reads as a link or
 * bytes). Anything else (bytes, CIDs, class instances, functions) is not.
 */
function plainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isSafeInteger(value) ? !Object.is(value, -0) : Number.isFinite(value) && !Number.isInteger(value)
    case 'object': {
      if (value === null) return true
      if (depth >= PLAIN_JSON_MAX_DEPTH) return false
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item = value[i]
          if (item === undefined || !plainJson(item, depth + 1)) return false
        }
        return true
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) return false
      const record = value as Record<string, unknown>
      for (const key in record) {
        if (key === '/') return false
        const member = record[key]
        if (member !== undefined && !plainJson(member, depth + 1)) return false
      }
      return true
    }
    default:
      return false
  }
}

/**
 * The bytes of a value that is sealed (encrypted) before it is stored, such as a log entry's
 * payload: plain JSON by `JSON.stringify` when the value is plain JSON (members in their own
 * order: the bytes are never hashed in the clear, the ciphertext is), else its dag-json encoding.
 * {@link decodeBlock} reads both back. `JSON.stringify` costs a third of the dag-json writer here
 * for a 1 KiB object and allocates no sorted key lists.
 */
export function payloadBytes(value: unknown): Uint8Array {
  return plainJson(value, 0) ? Buffer.from(JSON.stringify(value)) : canonicalBlockBytes(value)
}

/** Encodes `value` as a dag-json block with a CIDv1 over its sha2-256. */
export function encodeBlock(value: unknown): Block {
  const bytes = canonicalBlockBytes(value)
  const cid = CID.createV1(dagJson.code, createDigest(SHA2_256, sha256(bytes)))
  return { cid, bytes }
}

/** A value's dag-json encoding, ready to be signed, and the block it makes once signed. */
export interface SignableBlock {
  /** The dag-json bytes of the value without its signature: what is signed. */
  readonly bytes: Uint8Array
  /** The block of the value with `signature` added, built from the same text (no second encode). */
  withSignature(signature: unknown): Block
}

/**
 * Encodes `unsigned` (a map without a `signature` key) once for signing; the signed block is the
 * same text with the `signature` member spliced in at its sorted place, so the entry is not
 * encoded a second time. Falls back to two encodes for values the fast path does not write.
 */
export function signableBlock(unsigned: Readonly<Record<string, unknown>>): SignableBlock {
  const keys = sortedKeys(unsigned)
  let at = 0
  while (at < keys.length && (keys[at] as string) < 'signature') at++
  // The halves before and after where `signature` sorts: the signed text splices it in between.
  const head = unsigned['signature'] === undefined ? fastMembers(unsigned, keys.slice(0, at), 0, 'open') : undefined
  const tail = head === undefined ? undefined : fastMembers(unsigned, keys, at, undefined)
  if (head === undefined || tail === undefined) {
    return {
      bytes: canonicalBlockBytes(unsigned),
      withSignature: (signature) => encodeBlock({ ...unsigned, signature })
    }
  }
  // head is `{…` (no closing brace), tail is `{…}`: join them as one object.
  const hasHead = head.length > 1
  const hasTail = tail.length > 2
  const text = hasHead && hasTail ? `${head},${tail.slice(1)}` : hasHead ? `${head}}` : tail
  const bytes = Buffer.from(text)
  // The member goes between the byte-wise halves of the unsigned text.
  const cut = Buffer.byteLength(head)
  return {
    bytes,
    withSignature(signature) {
      const value = fastJson(signature)
      if (value === undefined) return encodeBlock({ ...unsigned, signature })
      const member = `${hasHead ? ',' : ''}"signature":${value}${hasTail ? ',' : ''}`
      const rest = hasHead && hasTail ? cut + 1 : cut
      const signed = Buffer.concat([bytes.subarray(0, cut), Buffer.from(member, 'latin1'), bytes.subarray(rest)])
      return { cid: CID.createV1(dagJson.code, createDigest(SHA2_256, sha256(signed))), bytes: signed }
    }
  }
}

/** Whether `bytes` hash to `cid` (which must be a dag-json, sha2-256 CID). */
export function bytesMatchCid(cid: CID, bytes: Uint8Array): boolean {
  if (cid.code !== dagJson.code || cid.multihash.code !== SHA2_256) return false
  return digestEquals(cid.multihash, createDigest(SHA2_256, sha256(bytes)))
}

function revive(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = revive(value[i])
    return value
  }
  const record = value as Record<string, unknown>
  const keys = Object.keys(record)
  if (keys.length === 1 && keys[0] === '/') {
    const inner = record['/']
    if (typeof inner === 'string') return CID.parse(inner)
    if (inner !== null && typeof inner === 'object' && !Array.isArray(inner)) {
      const innerKeys = Object.keys(inner)
      const b = (inner as Record<string, unknown>)['bytes']
      if (innerKeys.length === 1 && typeof b === 'string') return new Uint8Array(Buffer.from(b, 'base64'))
    }
  }
  for (const key of keys) record[key] = revive(record[key])
  return record
}

/**
 * Decodes dag-json bytes (links become CIDs, `{"/":{"bytes":…}}` becomes bytes); throws on bad
 * bytes. Uses `JSON.parse` (~10× faster than the dag-json decoder here); callers check a block's
 * hash before trusting what it decodes to.
 */
export function decodeBlock(bytes: Uint8Array): unknown {
  return revive(JSON.parse(decoder.decode(bytes)))
}

/** Reads `value` as a CID if it is one (or a CID-shaped object from another copy of multiformats). */
export function asCid(value: unknown): CID | undefined {
  if (value === null || typeof value !== 'object') return undefined
  return CID.asCID(value) ?? undefined
}
