import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign, verify } from 'node:crypto'
import {
  ED25519_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  MAX_STANDARD_WEBHOOKS_ASYMMETRIC_SIGNATURES,
  STANDARD_WEBHOOKS_ASYMMETRIC_SIGNATURE_VERSION,
  STANDARD_WEBHOOKS_HEADERS,
  STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX,
  STANDARD_WEBHOOKS_SECRET_KEY_PREFIX,
  STANDARD_WEBHOOKS_SECRET_PREFIX
} from './constants.js'
import { InvalidWebhookSecretError, MalformedWebhookHeaderError } from './errors.js'
import { payloadBytes, type WebhookHeaders, type WebhookPayload } from './headers.js'
import {
  assertSignable,
  BASE64,
  readStandardWebhookHeaders,
  type StandardWebhookMessage,
  type StandardWebhookToSign,
  signatureMismatch,
  signedPrefix,
  type VerifyStandardWebhookOptions
} from './standard-webhooks.js'

// Standard Webhooks' asymmetric signatures (spec/standard-webhooks.md, "Signature scheme", in
// github.com/standard-webhooks/standard-webhooks): ed25519 over the same `{id}.{timestamp}.{body}`
// as `v1`, serialized `v1a,<base64>`; keys serialized `whsk_<base64>` (secret) and `whpk_<base64>`
// (public). The spec says only "standard ed25519 key pair"; the byte layout is the reference Go
// library's (libraries/go/webhook_asymmetric.go, the only reference library with `v1a`): the
// public key is the raw 32-byte key (`ed25519.PublicKey(bytes)`), the secret key the 32-byte seed
// (`ed25519.NewKeyFromSeed(bytes)`), both standard base64 with padding (`base64.StdEncoding`).

/** A Standard Webhooks ed25519 public key: `whpk_<base64>`, or its 32 raw bytes. */
export type StandardWebhooksPublicKey = string | Uint8Array

/** A Standard Webhooks ed25519 secret key: `whsk_<base64>`, or the 32-byte seed. */
export type StandardWebhooksSecretKey = string | Uint8Array

/** A Standard Webhooks ed25519 key pair, serialized. */
export interface StandardWebhooksKeyPair {
  /** `whpk_` + base64 of the raw 32-byte public key: what receivers verify with. */
  readonly publicKey: string
  /** `whsk_` + base64 of the 32-byte seed: what the sender signs with (keep it secret). */
  readonly secretKey: string
}

// DER headers that make a raw ed25519 key a key node:crypto reads (RFC 8410): a
// SubjectPublicKeyInfo with the id-Ed25519 OID 1.3.101.112 and a 32-byte BIT STRING (§4), and a
// PKCS #8 v1 OneAsymmetricKey whose privateKey is an OCTET STRING holding the 32-byte seed (§7).
const SPKI_ED25519_HEADER = Buffer.from('302a300506032b6570032100', 'hex')
const PKCS8_ED25519_HEADER = Buffer.from('302e020100300506032b657004220420', 'hex')

/** Distinct `whpk_` keys whose parsed form is kept (a node's triggers name a handful). */
const PUBLIC_KEY_CACHE_SIZE = 256

// The y-coordinates (sign bit of x cleared) of the ed25519 points of small order: 0 (order 4),
// 1 (the identity), p - 1 (order 2) and the two of order 8 (the list libsodium's
// ge25519_has_small_order refuses, whose other entries, p and p + 1, are non-canonical and refused
// below as such). Under a public key of small order a signature can be forged without any secret
// key (node:crypto accepts an all-zero signature under the all-zero key for about one message in
// four); test/standard-webhooks-asymmetric.spec.ts checks each entry on the curve.
const SMALL_ORDER_Y = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'
].map((hex) => Buffer.from(hex, 'hex'))

/** Whether a point encoding's y (little-endian, sign bit cleared) is p = 2^255 - 19 or more. */
function nonCanonical(y: Buffer): boolean {
  if (y[31] !== 0x7f || (y[0] as number) < 0xed) return false
  for (let i = 1; i < 31; i++) if (y[i] !== 0xff) return false
  return true
}

/** Whether an ed25519 public key is a point no secret key stands behind (small order, or non-canonical). */
function weakPublicKey(key: Uint8Array): boolean {
  const y = Buffer.from(key)
  y[31] = (y[31] as number) & 0x7f
  return nonCanonical(y) || SMALL_ORDER_Y.some((weak) => weak.equals(y))
}

function prefixProblem(value: string, expected: 'public' | 'secret'): string {
  if (value.startsWith(STANDARD_WEBHOOKS_SECRET_PREFIX)) {
    return `This is a Standard Webhooks whsec_ secret: it ${expected === 'public' ? 'verifies' : 'signs'} v1 (HMAC) signatures, not v1a (ed25519) ones`
  }
  if (expected === 'public' && value.startsWith(STANDARD_WEBHOOKS_SECRET_KEY_PREFIX)) {
    return "This is a Standard Webhooks whsk_ secret key (the sender's, for signing): a receiver verifies with its whpk_ public key"
  }
  if (expected === 'secret' && value.startsWith(STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX)) {
    return 'This is a Standard Webhooks whpk_ public key: it verifies v1a signatures and cannot make them; sign with the whsk_ secret key'
  }
  return expected === 'public'
    ? 'A Standard Webhooks public key is whpk_ followed by the base64 of the 32-byte ed25519 key'
    : 'A Standard Webhooks secret key is whsk_ followed by the base64 of the 32-byte ed25519 seed'
}

function decodePrefixed(value: string, prefix: string, expected: 'public' | 'secret', what: string): Buffer {
  if (!value.startsWith(prefix)) throw new InvalidWebhookSecretError(prefixProblem(value, expected), 'wrong-prefix')
  const encoded = value.slice(prefix.length)
  if (encoded.length === 0) throw new InvalidWebhookSecretError(`The Standard Webhooks ${what} is empty after its ${prefix} prefix`, 'empty')
  if (!BASE64.test(encoded) || encoded.length % 4 === 1) throw new InvalidWebhookSecretError(`The Standard Webhooks ${what} is not base64 after its ${prefix} prefix`, 'not-base64')
  return Buffer.from(encoded, 'base64')
}

/**
 * The raw 32 bytes of a Standard Webhooks ed25519 public key. A string must be `whpk_` followed by
 * standard base64 (no bare base64: it would read like a `whsec_` secret).
 *
 * @throws {@link InvalidWebhookSecretError} when it has no `whpk_` prefix (or is a `whsec_` or
 *   `whsk_` value), is not base64, has other than 32 bytes, or is a point of small order
 *   (`reason` says which).
 */
export function parseStandardWebhooksPublicKey(publicKey: StandardWebhooksPublicKey): Uint8Array {
  let key: Uint8Array
  if (publicKey instanceof Uint8Array) key = publicKey
  else if (typeof publicKey === 'string') key = decodePrefixed(publicKey, STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX, 'public', 'public key')
  else throw new InvalidWebhookSecretError('The Standard Webhooks public key must be a string or bytes', 'wrong-type')
  if (key.length !== ED25519_KEY_BYTES) {
    throw new InvalidWebhookSecretError(`The Standard Webhooks public key has ${key.length} bytes; an ed25519 public key has ${ED25519_KEY_BYTES}`, 'wrong-length')
  }
  if (weakPublicKey(key)) {
    throw new InvalidWebhookSecretError('The Standard Webhooks public key is a point of small order (or encoded non-canonically): signatures under it can be forged', 'weak-key')
  }
  return key instanceof Buffer ? new Uint8Array(key.buffer, key.byteOffset, key.length) : key
}

/**
 * The 32-byte seed of a Standard Webhooks ed25519 secret key (`whsk_` followed by standard base64).
 *
 * @throws {@link InvalidWebhookSecretError} when it has no `whsk_` prefix (or is a `whsec_` or
 *   `whpk_` value), is not base64, or has other than 32 bytes (`reason` says which).
 */
export function parseStandardWebhooksSecretKey(secretKey: StandardWebhooksSecretKey): Uint8Array {
  let seed: Uint8Array
  if (secretKey instanceof Uint8Array) seed = secretKey
  else if (typeof secretKey === 'string') seed = decodePrefixed(secretKey, STANDARD_WEBHOOKS_SECRET_KEY_PREFIX, 'secret', 'secret key')
  else throw new InvalidWebhookSecretError('The Standard Webhooks secret key must be a string or bytes', 'wrong-type')
  if (seed.length !== ED25519_KEY_BYTES) {
    const hint = seed.length === 2 * ED25519_KEY_BYTES ? ' (64 bytes read like a seed followed by its public key: the seed is the first 32)' : ''
    throw new InvalidWebhookSecretError(`The Standard Webhooks secret key has ${seed.length} bytes; it is the 32-byte ed25519 seed${hint}`, 'wrong-length')
  }
  return seed instanceof Buffer ? new Uint8Array(seed.buffer, seed.byteOffset, seed.length) : seed
}

function publicKeyObject(key: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_HEADER, key]), format: 'der', type: 'spki' })
}

/** Public keys parsed before, by their `whpk_` text: parsing one and making its KeyObject costs ~80 µs, twice a signature check's share. */
const publicKeyObjects = new Map<string, KeyObject>()

/** The KeyObject of a public key, parsed once per distinct `whpk_` text (at most {@link PUBLIC_KEY_CACHE_SIZE} kept). */
function verifyingKey(publicKey: StandardWebhooksPublicKey): KeyObject {
  if (typeof publicKey !== 'string') return publicKeyObject(parseStandardWebhooksPublicKey(publicKey))
  let key = publicKeyObjects.get(publicKey)
  if (key === undefined) {
    key = publicKeyObject(parseStandardWebhooksPublicKey(publicKey))
    if (publicKeyObjects.size >= PUBLIC_KEY_CACHE_SIZE) publicKeyObjects.delete(publicKeyObjects.keys().next().value as string)
    publicKeyObjects.set(publicKey, key)
  }
  return key
}

function secretKeyObject(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_HEADER, seed]), format: 'der', type: 'pkcs8' })
}

function rawPublicKey(secret: KeyObject): Buffer {
  return createPublicKey(secret).export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519_HEADER.length)
}

/** A new ed25519 key pair, serialized as Standard Webhooks asks (`whpk_…` and `whsk_…`). */
export function generateStandardWebhooksKeyPair(): StandardWebhooksKeyPair {
  const { privateKey } = generateKeyPairSync('ed25519')
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_ED25519_HEADER.length)
  return {
    publicKey: STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX + rawPublicKey(privateKey).toString('base64'),
    secretKey: STANDARD_WEBHOOKS_SECRET_KEY_PREFIX + seed.toString('base64')
  }
}

/**
 * The `whpk_` public key of a `whsk_` secret key: what a sender gives its receivers.
 *
 * @throws {@link InvalidWebhookSecretError} for an unusable secret key.
 */
export function standardWebhooksPublicKeyOf(secretKey: StandardWebhooksSecretKey): string {
  return STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX + rawPublicKey(secretKeyObject(parseStandardWebhooksSecretKey(secretKey))).toString('base64')
}

function signedContent(id: string, timestamp: number, payload: WebhookPayload): Buffer {
  return Buffer.concat([signedPrefix(id, timestamp), payloadBytes(payload)])
}

/**
 * The private KeyObject of a `whsk_` secret key, for a sender signing many messages: making it
 * costs more than a signature, so make it once and pass it to {@link signStandardWebhookAsymmetric}.
 *
 * @throws {@link InvalidWebhookSecretError} for an unusable secret key.
 */
export function standardWebhooksSigningKey(secretKey: StandardWebhooksSecretKey): KeyObject {
  return secretKeyObject(parseStandardWebhooksSecretKey(secretKey))
}

/**
 * Signs a message as a Standard Webhooks sender does with an asymmetric key: ed25519 over
 * `{id}.{timestamp}.{body}`, serialized `v1a,<base64>` (a value of `webhook-signature`; join it
 * with others by a space to send several). The key is a `whsk_` secret key, its seed, or the
 * KeyObject {@link standardWebhooksSigningKey} made of it.
 *
 * @throws {@link InvalidWebhookSecretError} for an unusable secret key; {@link MalformedWebhookHeaderError} for an id with `.`.
 */
export function signStandardWebhookAsymmetric(secretKey: StandardWebhooksSecretKey | KeyObject, message: StandardWebhookToSign): string {
  assertSignable(message)
  let key: KeyObject
  if (secretKey instanceof KeyObject) {
    if (secretKey.type !== 'private' || secretKey.asymmetricKeyType !== 'ed25519') {
      throw new InvalidWebhookSecretError('A Standard Webhooks signing KeyObject must be an ed25519 private key', 'wrong-type')
    }
    key = secretKey
  } else key = standardWebhooksSigningKey(secretKey)
  return `${STANDARD_WEBHOOKS_ASYMMETRIC_SIGNATURE_VERSION},${sign(null, signedContent(message.id, message.timestamp, message.payload), key).toString('base64')}`
}

/**
 * Verifies a Standard Webhooks request signed with an asymmetric key: the `webhook-id`,
 * `webhook-timestamp` and `webhook-signature` headers over the raw body, exactly as
 * {@link verifyStandardWebhook} does for `v1`, but any one of the space-separated `v1a` (ed25519)
 * signatures must verify under any one of the `whpk_` public keys (several during a rotation).
 * Signatures of other versions (`v1` HMAC among them) are skipped, so a request carrying only
 * those is refused. At most 16 `v1a` signatures are looked at in one request.
 *
 * @throws {@link MissingWebhookHeaderError}, {@link MalformedWebhookHeaderError} (also for more
 *   than 16 `v1a` signatures), {@link StaleWebhookTimestampError}, {@link WebhookSignatureError}
 *   (`version: 'v1a'`), {@link InvalidWebhookSecretError} for an unusable public key.
 */
export function verifyStandardWebhookAsymmetric(
  publicKey: StandardWebhooksPublicKey | readonly StandardWebhooksPublicKey[],
  headers: WebhookHeaders,
  payload: WebhookPayload,
  options: VerifyStandardWebhookOptions = {}
): StandardWebhookMessage {
  const keys = (Array.isArray(publicKey) ? (publicKey as readonly StandardWebhooksPublicKey[]) : [publicKey as StandardWebhooksPublicKey]).map(verifyingKey)
  if (keys.length === 0) throw new InvalidWebhookSecretError('No Standard Webhooks public key to verify with', 'empty')
  const { id, timestamp, validUntil, signatures, offered } = readStandardWebhookHeaders(headers, STANDARD_WEBHOOKS_ASYMMETRIC_SIGNATURE_VERSION, options)
  // Each ed25519 verification costs ~60 µs: a header packed with signatures must not buy a forger
  // milliseconds of the receiver's CPU per request.
  if (signatures.length > MAX_STANDARD_WEBHOOKS_ASYMMETRIC_SIGNATURES) {
    throw new MalformedWebhookHeaderError(
      STANDARD_WEBHOOKS_HEADERS.signature,
      `carries ${signatures.length} ${STANDARD_WEBHOOKS_ASYMMETRIC_SIGNATURE_VERSION} signatures; at most ${MAX_STANDARD_WEBHOOKS_ASYMMETRIC_SIGNATURES} are verified`
    )
  }
  const content = signedContent(id, timestamp, payload)
  for (const signature of signatures) {
    if (signature.length !== ED25519_SIGNATURE_BYTES) continue
    for (const key of keys) {
      if (verify(null, content, key, signature)) return { id, timestamp, validUntil }
    }
  }
  throw signatureMismatch(STANDARD_WEBHOOKS_ASYMMETRIC_SIGNATURE_VERSION, offered)
}
