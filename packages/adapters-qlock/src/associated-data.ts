import type { EncryptionBinding, SealedRecipient } from '@qflow/pipeline'
import { AEAD_ALGORITHMS, type AeadAlgorithm } from './aead.js'
import { ENVELOPE_VERSION, QLOCK_LABEL } from './constants.js'
import { InvalidBindingError } from './errors.js'

/*
 * Associated data and HKDF info are one canonical byte string per meaning, so two different
 * meanings never share bytes:
 *
 *   label "qflow/qlock/v1" | 0x00 | purpose byte | envelope version | AEAD code | fields
 *
 * Strings are u32-BE length + UTF-8; byte strings are u32-BE length + bytes; optional binding
 * fields are 0x00 when absent and 0x01 followed by the string when present, so an absent field and
 * an empty one differ. Lone UTF-16 surrogates are refused up front: UTF-8 would replace them with
 * U+FFFD and two bindings would share bytes.
 */

const LABEL = Buffer.from(QLOCK_LABEL, 'utf8')
const HEADER_LENGTH = LABEL.length + 4

/** What an associated-data string authenticates: an encrypted envelope, a sealed one, or a key wrap. */
const PURPOSE_ENCRYPTED = 0x45 // 'E'
const PURPOSE_SEALED = 0x53 // 'S'
const PURPOSE_WRAP = 0x57 // 'W'

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function checkField(value: unknown, field: keyof EncryptionBinding, required: boolean): void {
  if (value === undefined && !required) return
  if (typeof value !== 'string') {
    throw new InvalidBindingError(required ? 'The binding needs a subnet string' : 'Binding fields must be strings', field)
  }
  if (required && value === '') throw new InvalidBindingError('The binding subnet must not be empty', field)
  if (LONE_SURROGATE.test(value)) throw new InvalidBindingError('Binding field holds a lone UTF-16 surrogate', field)
}

/** Checks that `binding` is a usable {@link EncryptionBinding}; throws {@link InvalidBindingError} otherwise. */
export function assertBinding(binding: unknown): asserts binding is EncryptionBinding {
  if (typeof binding !== 'object' || binding === null) throw new InvalidBindingError('The binding must be an object')
  const b = binding as Record<string, unknown>
  checkField(b.subnet, 'subnet', true)
  checkField(b.executionId, 'executionId', false)
  checkField(b.stepId, 'stepId', false)
  checkField(b.purpose, 'purpose', false)
}

function optionalLength(value: string | undefined): number {
  return value === undefined ? 1 : 5 + Buffer.byteLength(value, 'utf8')
}

function bindingLength(binding: EncryptionBinding): number {
  return (
    4 +
    Buffer.byteLength(binding.subnet, 'utf8') +
    optionalLength(binding.executionId) +
    optionalLength(binding.stepId) +
    optionalLength(binding.purpose)
  )
}

function writeString(out: Buffer, offset: number, value: string): number {
  const written = out.write(value, offset + 4, 'utf8')
  out.writeUInt32BE(written, offset)
  return offset + 4 + written
}

function writeOptional(out: Buffer, offset: number, value: string | undefined): number {
  if (value === undefined) {
    out[offset] = 0
    return offset + 1
  }
  out[offset] = 1
  return writeString(out, offset + 1, value)
}

function writeBytes(out: Buffer, offset: number, value: Uint8Array): number {
  out.writeUInt32BE(value.length, offset)
  out.set(value, offset + 4)
  return offset + 4 + value.length
}

function writeBinding(out: Buffer, offset: number, binding: EncryptionBinding): number {
  let at = writeString(out, offset, binding.subnet)
  at = writeOptional(out, at, binding.executionId)
  at = writeOptional(out, at, binding.stepId)
  return writeOptional(out, at, binding.purpose)
}

function header(length: number, purpose: number, alg: AeadAlgorithm): Buffer {
  const out = Buffer.allocUnsafe(length)
  LABEL.copy(out, 0)
  let at = LABEL.length
  out[at++] = 0
  out[at++] = purpose
  out[at++] = ENVELOPE_VERSION
  out[at] = AEAD_ALGORITHMS.indexOf(alg) + 1
  return out
}

/**
 * Associated data of an {@link EncryptedEnvelope}: version, algorithm, key id and binding. Changing
 * any of them, or opening with another binding, fails authentication.
 */
export function encryptedAssociatedData(alg: AeadAlgorithm, kid: string, binding: EncryptionBinding): Buffer {
  const out = header(HEADER_LENGTH + 4 + Buffer.byteLength(kid, 'utf8') + bindingLength(binding), PURPOSE_ENCRYPTED, alg)
  writeBinding(out, writeString(out, HEADER_LENGTH, kid), binding)
  return out
}

/**
 * Associated data of a sealed envelope's payload: version, algorithm, binding and the whole
 * recipient table (identity, ephemeral key, wrap nonce and wrapped key of each, in order). Any
 * change to any recipient entry therefore fails the payload for every recipient.
 */
export function sealedAssociatedData(alg: AeadAlgorithm, binding: EncryptionBinding, recipients: readonly SealedRecipient[]): Buffer {
  let length = HEADER_LENGTH + bindingLength(binding) + 4
  for (const r of recipients) {
    length += 16 + Buffer.byteLength(r.did, 'utf8') + r.ephemeralPublicKey.length + r.nonce.length + r.wrappedKey.length
  }
  const out = header(length, PURPOSE_SEALED, alg)
  let at = writeBinding(out, HEADER_LENGTH, binding)
  out.writeUInt32BE(recipients.length, at)
  at += 4
  for (const r of recipients) {
    at = writeString(out, at, r.did)
    at = writeBytes(out, at, r.ephemeralPublicKey)
    at = writeBytes(out, at, r.nonce)
    at = writeBytes(out, at, r.wrappedKey)
  }
  return out
}

/**
 * HKDF info (and key-wrap associated data) for one recipient of a sealed envelope: version,
 * algorithm, the recipient's identity, the ephemeral public key and the envelope binding. The
 * derived key-encryption key is thus specific to that recipient, that ephemeral key and that place.
 */
export function wrapInfo(alg: AeadAlgorithm, did: string, ephemeralPublicKey: Uint8Array, binding: EncryptionBinding): Buffer {
  const out = header(
    HEADER_LENGTH + 4 + Buffer.byteLength(did, 'utf8') + 4 + ephemeralPublicKey.length + bindingLength(binding),
    PURPOSE_WRAP,
    alg
  )
  let at = writeString(out, HEADER_LENGTH, did)
  at = writeBytes(out, at, ephemeralPublicKey)
  writeBinding(out, at, binding)
  return out
}
