import type { EncryptedEnvelope, SealedEnvelope, SealedRecipient } from '@qflow/pipeline'
import { AEAD_ALGORITHMS, type AeadAlgorithm, isAeadAlgorithm } from './aead.js'
import {
  ENVELOPE_VERSION,
  MAX_DID_LENGTH,
  MAX_KID_LENGTH,
  MAX_RECIPIENTS,
  NONCE_LENGTH,
  TAG_LENGTH,
  WRAPPED_KEY_LENGTH,
  X25519_KEY_LENGTH
} from './constants.js'
import { EnvelopeFormatError } from './errors.js'

/** Either kind of Qlock envelope. */
export type Envelope = EncryptedEnvelope | SealedEnvelope

/** Which kind of envelope: `encrypted` (under a subnet key) or `sealed` (to recipients). */
export type EnvelopeKind = 'encrypted' | 'sealed'

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const BASE64URL = /^[A-Za-z0-9_-]*$/
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

const MAGIC = 0x51 // 'Q'
const KIND_ENCRYPTED = 0x45 // 'E'
const KIND_SEALED = 0x53 // 'S'

function fail(message: string, field = '', offset?: number): never {
  throw new EnvelopeFormatError(message, field, offset)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function checkBytes(value: unknown, field: string, length: number | undefined, minLength = 0): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) fail('Expected bytes (a Uint8Array)', field)
  if (length !== undefined && value.length !== length) fail(`Expected ${length} bytes, got ${value.length}`, field)
  if (value.length < minLength) fail(`Expected at least ${minLength} bytes, got ${value.length}`, field)
}

function checkText(value: unknown, field: string, maxBytes: number): asserts value is string {
  if (typeof value !== 'string' || value === '') fail('Expected a non-empty string', field)
  if (LONE_SURROGATE.test(value)) fail('String holds a lone UTF-16 surrogate', field)
  if (Buffer.byteLength(value, 'utf8') > maxBytes) fail(`String longer than ${maxBytes} UTF-8 bytes`, field)
}

function checkHeader(value: Record<string, unknown>): void {
  if (value.v !== ENVELOPE_VERSION) fail(`Unknown envelope version ${String(value.v)}`, '/v')
  if (!isAeadAlgorithm(value.alg)) fail(`Unknown algorithm ${String(value.alg)}`, '/alg')
  checkBytes(value.nonce, '/nonce', NONCE_LENGTH)
  checkBytes(value.ciphertext, '/ciphertext', undefined, TAG_LENGTH)
}

/** Checks an {@link EncryptedEnvelope} object's shape; throws {@link EnvelopeFormatError}. */
export function assertEncryptedEnvelope(value: unknown): asserts value is EncryptedEnvelope {
  if (!isRecord(value)) fail('An envelope is an object')
  if ('recipients' in value) fail('This is a sealed envelope, not an encrypted one', '/recipients')
  checkHeader(value)
  checkText(value.kid, '/kid', MAX_KID_LENGTH)
}

/** Checks a {@link SealedEnvelope} object's shape, recipients included; throws {@link EnvelopeFormatError}. */
export function assertSealedEnvelope(value: unknown): asserts value is SealedEnvelope {
  if (!isRecord(value)) fail('An envelope is an object')
  if ('kid' in value) fail('This is an encrypted envelope, not a sealed one', '/kid')
  checkHeader(value)
  const recipients = value.recipients
  if (!Array.isArray(recipients)) fail('Expected an array of recipients', '/recipients')
  if (recipients.length === 0 || recipients.length > MAX_RECIPIENTS) fail(`Expected 1 to ${MAX_RECIPIENTS} recipients`, '/recipients')
  const seen = new Set<string>()
  for (let i = 0; i < recipients.length; i++) {
    const r: unknown = recipients[i]
    const at = `/recipients/${i}`
    if (!isRecord(r)) fail('A recipient is an object', at)
    checkText(r.did, `${at}/did`, MAX_DID_LENGTH)
    if (seen.has(r.did)) fail('Duplicate recipient', `${at}/did`)
    seen.add(r.did)
    checkBytes(r.ephemeralPublicKey, `${at}/ephemeralPublicKey`, X25519_KEY_LENGTH)
    checkBytes(r.nonce, `${at}/nonce`, NONCE_LENGTH)
    checkBytes(r.wrappedKey, `${at}/wrappedKey`, WRAPPED_KEY_LENGTH)
  }
}

/** Whether an envelope is a sealed one (it lists recipients) rather than one under a subnet key. */
export function isSealedEnvelope(envelope: Envelope): envelope is SealedEnvelope {
  return 'recipients' in envelope
}

function algCode(alg: AeadAlgorithm): number {
  return AEAD_ALGORITHMS.indexOf(alg) + 1
}

/*
 * Binary form, version 1 (all integers big-endian):
 *
 *   encrypted: 'Q' 'E' | version | AEAD code | u8 kid length | kid (UTF-8) | nonce (12) | ciphertext+tag
 *   sealed:    'Q' 'S' | version | AEAD code | u16 recipient count | recipients | nonce (12) | ciphertext+tag
 *   recipient: u16 did length | did (UTF-8) | ephemeral public key (32) | nonce (12) | wrapped key (48)
 *
 * The ciphertext runs to the end of the input, so nothing can trail it.
 */

/**
 * Encodes an envelope in the compact binary form, for storage and transport. The shape is checked
 * first: {@link EnvelopeFormatError} for anything this package could not decode again.
 */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  if (isRecord(envelope) && 'recipients' in envelope) return encodeSealed(envelope as SealedEnvelope)
  assertEncryptedEnvelope(envelope)
  const kidLength = Buffer.byteLength(envelope.kid, 'utf8')
  const out = Buffer.allocUnsafe(5 + kidLength + NONCE_LENGTH + envelope.ciphertext.length)
  out[0] = MAGIC
  out[1] = KIND_ENCRYPTED
  out[2] = ENVELOPE_VERSION
  out[3] = algCode(envelope.alg as AeadAlgorithm)
  out[4] = kidLength
  let at = 5 + out.write(envelope.kid, 5, 'utf8')
  out.set(envelope.nonce, at)
  at += NONCE_LENGTH
  out.set(envelope.ciphertext, at)
  return out
}

function encodeSealed(envelope: SealedEnvelope): Uint8Array {
  assertSealedEnvelope(envelope)
  let length = 6 + NONCE_LENGTH + envelope.ciphertext.length
  for (const r of envelope.recipients) length += 2 + Buffer.byteLength(r.did, 'utf8') + X25519_KEY_LENGTH + NONCE_LENGTH + WRAPPED_KEY_LENGTH
  const out = Buffer.allocUnsafe(length)
  out[0] = MAGIC
  out[1] = KIND_SEALED
  out[2] = ENVELOPE_VERSION
  out[3] = algCode(envelope.alg as AeadAlgorithm)
  out.writeUInt16BE(envelope.recipients.length, 4)
  let at = 6
  for (const r of envelope.recipients) {
    const didLength = out.write(r.did, at + 2, 'utf8')
    out.writeUInt16BE(didLength, at)
    at += 2 + didLength
    out.set(r.ephemeralPublicKey, at)
    at += X25519_KEY_LENGTH
    out.set(r.nonce, at)
    at += NONCE_LENGTH
    out.set(r.wrappedKey, at)
    at += WRAPPED_KEY_LENGTH
  }
  out.set(envelope.nonce, at)
  out.set(envelope.ciphertext, at + NONCE_LENGTH)
  return out
}

class Reader {
  at = 0
  constructor(private readonly bytes: Uint8Array) {}

  take(n: number, field: string): Uint8Array {
    if (this.at + n > this.bytes.length) fail('Envelope truncated', field, this.bytes.length)
    // A copy, so the envelope does not change if the caller reuses the input buffer.
    const out = new Uint8Array(this.bytes.subarray(this.at, this.at + n))
    this.at += n
    return out
  }

  u8(field: string): number {
    if (this.at >= this.bytes.length) fail('Envelope truncated', field, this.bytes.length)
    return this.bytes[this.at++] as number
  }

  u16(field: string): number {
    return (this.u8(field) << 8) | this.u8(field)
  }

  text(n: number, field: string): string {
    const start = this.at
    const bytes = this.take(n, field)
    try {
      return utf8.decode(bytes)
    } catch {
      return fail('Not UTF-8', field, start)
    }
  }

  rest(field: string): Uint8Array {
    const out = new Uint8Array(this.bytes.subarray(this.at))
    this.at = this.bytes.length
    if (out.length < TAG_LENGTH) fail(`Expected at least ${TAG_LENGTH} bytes of ciphertext`, field, this.bytes.length)
    return out
  }
}

/** Decodes a binary envelope of the given kind; throws {@link EnvelopeFormatError}. */
export function decodeEnvelope(bytes: Uint8Array, kind: 'encrypted'): EncryptedEnvelope
/** Decodes a binary envelope of the given kind; throws {@link EnvelopeFormatError}. */
export function decodeEnvelope(bytes: Uint8Array, kind: 'sealed'): SealedEnvelope
/** Decodes a binary envelope of either kind; throws {@link EnvelopeFormatError}. */
export function decodeEnvelope(bytes: Uint8Array, kind?: EnvelopeKind): Envelope
export function decodeEnvelope(bytes: Uint8Array, kind?: EnvelopeKind): Envelope {
  if (!(bytes instanceof Uint8Array)) fail('Expected bytes (a Uint8Array)')
  const r = new Reader(bytes)
  if (r.u8('/magic') !== MAGIC) fail('Not a Qlock envelope (bad magic)', '', 0)
  const code = r.u8('/kind')
  const found: EnvelopeKind | undefined = code === KIND_ENCRYPTED ? 'encrypted' : code === KIND_SEALED ? 'sealed' : undefined
  if (found === undefined) fail('Unknown envelope kind', '', 1)
  if (kind !== undefined && found !== kind) fail(`Expected a ${kind} envelope, found a ${found} one`, '', 1)
  if (r.u8('/v') !== ENVELOPE_VERSION) fail('Unknown envelope version', '/v', 2)
  const alg = AEAD_ALGORITHMS[r.u8('/alg') - 1]
  if (alg === undefined) fail('Unknown algorithm', '/alg', 3)
  if (found === 'encrypted') {
    const kidLength = r.u8('/kid')
    if (kidLength === 0) fail('Empty key id', '/kid', 4)
    const kid = r.text(kidLength, '/kid')
    const nonce = r.take(NONCE_LENGTH, '/nonce')
    const ciphertext = r.rest('/ciphertext')
    return { v: ENVELOPE_VERSION, alg, kid, nonce, ciphertext }
  }
  const count = r.u16('/recipients')
  if (count === 0 || count > MAX_RECIPIENTS) fail(`Expected 1 to ${MAX_RECIPIENTS} recipients`, '/recipients', 4)
  const recipients: SealedRecipient[] = []
  const seen = new Set<string>()
  for (let i = 0; i < count; i++) {
    const at = `/recipients/${i}`
    const start = r.at
    const didLength = r.u16(`${at}/did`)
    if (didLength === 0 || didLength > MAX_DID_LENGTH) fail('Bad recipient identity length', `${at}/did`, start)
    const did = r.text(didLength, `${at}/did`)
    if (seen.has(did)) fail('Duplicate recipient', `${at}/did`, start)
    seen.add(did)
    const ephemeralPublicKey = r.take(X25519_KEY_LENGTH, `${at}/ephemeralPublicKey`)
    const nonce = r.take(NONCE_LENGTH, `${at}/nonce`)
    const wrappedKey = r.take(WRAPPED_KEY_LENGTH, `${at}/wrappedKey`)
    recipients.push({ did, ephemeralPublicKey, nonce, wrappedKey })
  }
  const nonce = r.take(NONCE_LENGTH, '/nonce')
  const ciphertext = r.rest('/ciphertext')
  return { v: ENVELOPE_VERSION, alg, nonce, ciphertext, recipients }
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

function fromB64(value: unknown, field: string): Uint8Array {
  if (typeof value !== 'string' || !BASE64URL.test(value) || value.length % 4 === 1) fail('Expected unpadded base64url', field)
  const bytes = Buffer.from(value, 'base64url')
  // Reject non-canonical text (stray low bits in the last character), so one envelope has one text.
  if (bytes.toString('base64url') !== value) fail('Non-canonical base64url', field)
  return new Uint8Array(bytes)
}

function checkKeys(value: Record<string, unknown>, keys: readonly string[], field: string): void {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) fail(`Unexpected member ${JSON.stringify(key)}`, `${field}/${key}`)
  }
  for (const key of keys) if (!(key in value)) fail(`Missing member ${JSON.stringify(key)}`, `${field}/${key}`)
}

/**
 * Encodes an envelope as JSON text, byte fields in unpadded base64url:
 * `{"v":1,"alg":…,"kid":…,"nonce":…,"ciphertext":…}` or, sealed,
 * `{"v":1,"alg":…,"nonce":…,"ciphertext":…,"recipients":[{"did":…,"ephemeralPublicKey":…,"nonce":…,"wrappedKey":…}]}`.
 */
export function envelopeToJson(envelope: Envelope): string {
  if (isRecord(envelope) && 'recipients' in envelope) {
    assertSealedEnvelope(envelope)
    return JSON.stringify({
      v: envelope.v,
      alg: envelope.alg,
      nonce: b64(envelope.nonce),
      ciphertext: b64(envelope.ciphertext),
      recipients: envelope.recipients.map((r) => ({
        did: r.did,
        ephemeralPublicKey: b64(r.ephemeralPublicKey),
        nonce: b64(r.nonce),
        wrappedKey: b64(r.wrappedKey)
      }))
    })
  }
  assertEncryptedEnvelope(envelope)
  return JSON.stringify({ v: envelope.v, alg: envelope.alg, kid: envelope.kid, nonce: b64(envelope.nonce), ciphertext: b64(envelope.ciphertext) })
}

/** Parses JSON text from {@link envelopeToJson}, strictly (exact members, canonical base64url); throws {@link EnvelopeFormatError}. */
export function envelopeFromJson(text: string, kind: 'encrypted'): EncryptedEnvelope
/** Parses JSON text from {@link envelopeToJson}, strictly (exact members, canonical base64url); throws {@link EnvelopeFormatError}. */
export function envelopeFromJson(text: string, kind: 'sealed'): SealedEnvelope
/** Parses JSON text from {@link envelopeToJson}, strictly (exact members, canonical base64url); throws {@link EnvelopeFormatError}. */
export function envelopeFromJson(text: string, kind?: EnvelopeKind): Envelope
export function envelopeFromJson(text: string, kind?: EnvelopeKind): Envelope {
  if (typeof text !== 'string') fail('Expected JSON text')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    fail('Not JSON')
  }
  if (!isRecord(value)) fail('An envelope is a JSON object')
  const found: EnvelopeKind = 'recipients' in value ? 'sealed' : 'encrypted'
  if (kind !== undefined && found !== kind) fail(`Expected a ${kind} envelope, found a ${found} one`)
  if (found === 'encrypted') {
    checkKeys(value, ['v', 'alg', 'kid', 'nonce', 'ciphertext'], '')
    const envelope = {
      v: value.v,
      alg: value.alg,
      kid: value.kid,
      nonce: fromB64(value.nonce, '/nonce'),
      ciphertext: fromB64(value.ciphertext, '/ciphertext')
    }
    assertEncryptedEnvelope(envelope)
    return envelope
  }
  checkKeys(value, ['v', 'alg', 'nonce', 'ciphertext', 'recipients'], '')
  if (!Array.isArray(value.recipients)) fail('Expected an array of recipients', '/recipients')
  const recipients = value.recipients.map((r: unknown, i: number) => {
    const at = `/recipients/${i}`
    if (!isRecord(r)) fail('A recipient is an object', at)
    checkKeys(r, ['did', 'ephemeralPublicKey', 'nonce', 'wrappedKey'], at)
    return {
      did: r.did,
      ephemeralPublicKey: fromB64(r.ephemeralPublicKey, `${at}/ephemeralPublicKey`),
      nonce: fromB64(r.nonce, `${at}/nonce`),
      wrappedKey: fromB64(r.wrappedKey, `${at}/wrappedKey`)
    }
  })
  const envelope = {
    v: value.v,
    alg: value.alg,
    nonce: fromB64(value.nonce, '/nonce'),
    ciphertext: fromB64(value.ciphertext, '/ciphertext'),
    recipients
  }
  assertSealedEnvelope(envelope)
  return envelope
}
