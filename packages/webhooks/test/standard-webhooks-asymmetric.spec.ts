import { createPublicKey, verify } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  generateStandardWebhooksKeyPair,
  parseStandardWebhooksPublicKey,
  parseStandardWebhooksSecretKey,
  signStandardWebhook,
  signStandardWebhookAsymmetric,
  standardWebhooksPublicKeyOf,
  standardWebhooksSigningKey,
  verifyStandardWebhook,
  verifyStandardWebhookAsymmetric
} from '../src/index.js'

/**
 * The published `v1a` test vector of the Standard Webhooks reference libraries:
 * standard-webhooks/standard-webhooks `libraries/go/webhook_asymmetric_test.go`
 * (`TestAsymmetricWebhookSign`): the seed (base64 of the 32 ASCII bytes
 * "TESTSIGNINGKEYDONOTUSETHISFORANY", read with `ed25519.NewKeyFromSeed`), the message id,
 * timestamp and payload every library's tests share, and the expected signature. The Go test
 * passes the key without its `whsk_` prefix (the library strips it when present, as
 * `TestAsymmetricWebhookPrefix` shows). The public key is not published: it is the one the seed
 * gives (RFC 8032), and `publicKey` below is what `standardWebhooksPublicKeyOf` must derive.
 */
const VECTOR = {
  secretKey: 'whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=',
  publicKey: 'whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
  signature: 'v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=='
} as const

/** The symmetric vector of the same libraries (see standard-webhooks.spec.ts): a valid `v1` signature of the same message. */
const V1 = { secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' } as const

/** A clock at the vector's timestamp plus `skewMs`. */
const at = (skewMs = 0) => ({ now: () => VECTOR.timestamp * 1000 + skewMs })

const headersOf = (signature: string = VECTOR.signature, timestamp: number = VECTOR.timestamp, id: string = VECTOR.id) => ({
  'webhook-id': id,
  'webhook-timestamp': String(timestamp),
  'webhook-signature': signature
})

const refusedWith = (fields: Record<string, unknown>) => expect.objectContaining(fields)

describe('Standard Webhooks asymmetric signatures (v1a, ed25519)', () => {
  it('signs with a KeyObject made once from the whsk_ key, the same signature; refuses a KeyObject that is no ed25519 private key', () => {
    const key = standardWebhooksSigningKey(VECTOR.secretKey)
    expect(signStandardWebhookAsymmetric(key, { id: VECTOR.id, timestamp: VECTOR.timestamp, payload: VECTOR.payload })).toBe(VECTOR.signature)
    const publicHalf = createPublicKey(key)
    expect(() => signStandardWebhookAsymmetric(publicHalf, { id: VECTOR.id, timestamp: VECTOR.timestamp, payload: VECTOR.payload })).toThrow(
      expect.objectContaining({ name: 'InvalidWebhookSecretError', reason: 'wrong-type' })
    )
    expect(() => standardWebhooksSigningKey('whpk_AAAA')).toThrow(expect.objectContaining({ name: 'InvalidWebhookSecretError', reason: 'wrong-prefix' }))
  })

  it('signs the published test vector, from the whsk_ key and from the raw seed', () => {
    const message = { id: VECTOR.id, timestamp: VECTOR.timestamp, payload: VECTOR.payload }
    expect(signStandardWebhookAsymmetric(VECTOR.secretKey, message)).toBe(VECTOR.signature)
    expect(signStandardWebhookAsymmetric(Buffer.from('TESTSIGNINGKEYDONOTUSETHISFORANY'), message)).toBe(VECTOR.signature)
    expect(parseStandardWebhooksSecretKey(VECTOR.secretKey)).toEqual(new Uint8Array(Buffer.from('TESTSIGNINGKEYDONOTUSETHISFORANY')))
  })

  it("derives the vector's whpk_ public key, and verifies the vector under it (text or raw bytes)", () => {
    expect(standardWebhooksPublicKeyOf(VECTOR.secretKey)).toBe(VECTOR.publicKey)
    const expected = { id: VECTOR.id, timestamp: VECTOR.timestamp, validUntil: VECTOR.timestamp * 1000 + 5 * 60 * 1000 }
    expect(verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf(), VECTOR.payload, at())).toEqual(expected)
    expect(verifyStandardWebhookAsymmetric(parseStandardWebhooksPublicKey(VECTOR.publicKey), headersOf(), new TextEncoder().encode(VECTOR.payload), at())).toEqual(expected)
  })

  it('refuses the reference invalid and partial v1a signatures, and one of the wrong length or not base64', () => {
    // libraries/go/webhook_asymmetric_test.go: "invalid signature is invalid", "partial signature is invalid"
    const bad = ['v1a,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=', 'v1a,', VECTOR.signature.slice(0, 40), 'v1a,not-base64!']
    for (const signature of bad) {
      expect(() => verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf(signature), VECTOR.payload, at())).toThrow(
        refusedWith({ name: 'WebhookSignatureError', scheme: 'standard-webhooks', version: 'v1a' })
      )
    }
  })

  it('accepts one valid v1a signature among several of mixed versions (reference "valid multi sig")', () => {
    const junk = 'Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc='
    const header = [`v1,${junk}`, `v2,${junk}`, `v1a,${Buffer.alloc(64, 7).toString('base64')}`, VECTOR.signature, `v1,${junk}`].join(' ')
    expect(verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf(header), VECTOR.payload, at()).id).toBe(VECTOR.id)
  })

  it('lets one header carry a v1 and a v1a signature (the spec example): each key verifies its own version', () => {
    const header = `${V1.signature} ${VECTOR.signature}`
    expect(verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf(header), VECTOR.payload, at()).id).toBe(VECTOR.id)
    expect(verifyStandardWebhook(V1.secret, headersOf(header), VECTOR.payload, at()).id).toBe(VECTOR.id)
  })

  it('refuses a request carrying only a v1 signature, however valid, and says the key verifies v1a', () => {
    expect(() => verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf(V1.signature), VECTOR.payload, at())).toThrow(
      refusedWith({ name: 'WebhookSignatureError', version: 'v1a', message: expect.stringMatching(/no standard-webhooks v1a signature.*\(it carries v1\)/) })
    )
    // and the other way round: a whsec_ secret verifies no v1a signature
    expect(() => verifyStandardWebhook(V1.secret, headersOf(VECTOR.signature), VECTOR.payload, at())).toThrow(
      refusedWith({ name: 'WebhookSignatureError', version: 'v1', message: expect.stringMatching(/no standard-webhooks v1 signature.*\(it carries v1a\)/) })
    )
  })

  it('does not name back versions the spec does not define', () => {
    expect(() => verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf('<script>,AAAA'), VECTOR.payload, at())).toThrow(
      refusedWith({ name: 'WebhookSignatureError', message: 'The request has no standard-webhooks v1a signature, the only version its key verifies' })
    )
  })

  it("refuses a signature made with another key pair, and verifies under the sender's new key during a rotation", () => {
    const other = generateStandardWebhooksKeyPair()
    expect(() => verifyStandardWebhookAsymmetric(other.publicKey, headersOf(), VECTOR.payload, at())).toThrow(refusedWith({ name: 'WebhookSignatureError', version: 'v1a' }))
    expect(verifyStandardWebhookAsymmetric([other.publicKey, VECTOR.publicKey], headersOf(), VECTOR.payload, at()).id).toBe(VECTOR.id)
    // the sender signs with both keys while receivers move over
    const both = `${signStandardWebhookAsymmetric(other.secretKey, { id: VECTOR.id, timestamp: VECTOR.timestamp, payload: VECTOR.payload })} ${VECTOR.signature}`
    expect(verifyStandardWebhookAsymmetric(other.publicKey, headersOf(both), VECTOR.payload, at()).id).toBe(VECTOR.id)
  })

  it('refuses a body, id or timestamp changed after signing', () => {
    const refused = refusedWith({ name: 'WebhookSignatureError', version: 'v1a' })
    expect(() => verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf(), '{"test": 2432232315}', at())).toThrow(refused)
    expect(() => verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf(VECTOR.signature, VECTOR.timestamp, 'msg_other'), VECTOR.payload, at())).toThrow(refused)
    expect(() => verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf(VECTOR.signature, VECTOR.timestamp + 1), VECTOR.payload, at(1000))).toThrow(refused)
  })

  it('refuses timestamps outside the window either way (before any signature is verified), and accepts its edges', () => {
    const window = 5 * 60 * 1000
    for (const skew of [window + 1000, -(window + 1000)]) {
      expect(() => verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf(), VECTOR.payload, at(skew))).toThrow(
        refusedWith({ name: 'StaleWebhookTimestampError', timestamp: VECTOR.timestamp, toleranceMs: window })
      )
    }
    expect(() => verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf('v1a,AAAA'), VECTOR.payload, at(window + 1000))).toThrow(refusedWith({ name: 'StaleWebhookTimestampError' }))
    expect(verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf(), VECTOR.payload, at(window)).id).toBe(VECTOR.id)
    expect(verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf(), VECTOR.payload, at(-window)).id).toBe(VECTOR.id)
    expect(() => verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf(), VECTOR.payload, { ...at(2000), toleranceMs: 1000 })).toThrow(
      refusedWith({ name: 'StaleWebhookTimestampError', toleranceMs: 1000 })
    )
  })

  it('names a missing or malformed header as the v1 verification does', () => {
    for (const header of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const headers: Record<string, string> = headersOf()
      delete headers[header]
      expect(() => verifyStandardWebhookAsymmetric(VECTOR.publicKey, headers, VECTOR.payload, at())).toThrow(refusedWith({ name: 'MissingWebhookHeaderError', header }))
    }
    expect(() => verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf(VECTOR.signature, VECTOR.timestamp, 'msg.1'), VECTOR.payload, at())).toThrow(
      refusedWith({ name: 'MalformedWebhookHeaderError', header: 'webhook-id' })
    )
    expect(() => verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf(VECTOR.signature.slice(4)), VECTOR.payload, at())).toThrow(
      refusedWith({ name: 'MalformedWebhookHeaderError', header: 'webhook-signature' })
    )
  })

  it('verifies at most 16 v1a signatures in one request', () => {
    const filler = (n: number) => Array.from({ length: n }, (_, i) => `v1a,${Buffer.alloc(64, i + 1).toString('base64')}`)
    const sixteen = [...filler(15), VECTOR.signature].join(' ')
    expect(verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf(sixteen), VECTOR.payload, at()).id).toBe(VECTOR.id)
    const seventeen = [...filler(16), VECTOR.signature].join(' ')
    expect(() => verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf(seventeen), VECTOR.payload, at())).toThrow(
      refusedWith({ name: 'MalformedWebhookHeaderError', header: 'webhook-signature', reason: expect.stringContaining('17 v1a signatures') })
    )
    // other versions do not count
    expect(verifyStandardWebhookAsymmetric(VECTOR.publicKey, headersOf([...filler(15).map((s) => s.replace('v1a,', 'v1,')), VECTOR.signature].join(' ')), VECTOR.payload, at()).id).toBe(VECTOR.id)
  })
})

describe('Standard Webhooks ed25519 keys', () => {
  const base64Of = (bytes: number, fill = 9) => Buffer.alloc(bytes, fill).toString('base64')

  it('refuses unusable whpk_ public keys, naming the problem, before reading the request', () => {
    const pair = generateStandardWebhooksKeyPair()
    const cases: [unknown, string, RegExp][] = [
      ['', 'wrong-prefix', /whpk_/],
      [VECTOR.publicKey.slice('whpk_'.length), 'wrong-prefix', /whpk_ followed by/], // bare base64 reads like a whsec_ secret
      [V1.secret, 'wrong-prefix', /whsec_ secret/],
      [pair.secretKey, 'wrong-prefix', /whsk_ secret key/],
      ['whpk_', 'empty', /empty/],
      ['whpk_not base64!', 'not-base64', /not base64/],
      ['whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c_g', 'not-base64', /not base64/], // base64url
      [`whpk_${base64Of(31)}`, 'wrong-length', /31 bytes/],
      [`whpk_${base64Of(33)}`, 'wrong-length', /33 bytes/],
      [`whpk_${base64Of(64)}`, 'wrong-length', /64 bytes/],
      [new Uint8Array(31), 'wrong-length', /31 bytes/],
      [42, 'wrong-type', /string or bytes/]
    ]
    for (const [key, reason, message] of cases) {
      expect(() => parseStandardWebhooksPublicKey(key as string)).toThrow(refusedWith({ name: 'InvalidWebhookSecretError', reason, message: expect.stringMatching(message) }))
      // a configured key that cannot be used is refused whatever the request
      expect(() => verifyStandardWebhookAsymmetric(key as string, {}, '')).toThrow(refusedWith({ name: 'InvalidWebhookSecretError', reason }))
    }
    expect(() => verifyStandardWebhookAsymmetric([], headersOf(), VECTOR.payload, at())).toThrow(refusedWith({ name: 'InvalidWebhookSecretError', reason: 'empty' }))
    // the same key without its padding is the same key
    expect(parseStandardWebhooksPublicKey(VECTOR.publicKey.slice(0, -1))).toEqual(parseStandardWebhooksPublicKey(VECTOR.publicKey))
  })

  it('refuses unusable whsk_ secret keys, naming the problem', () => {
    const pair = generateStandardWebhooksKeyPair()
    const seed = parseStandardWebhooksSecretKey(pair.secretKey)
    const cases: [unknown, string, RegExp][] = [
      [pair.publicKey, 'wrong-prefix', /whpk_ public key.*cannot make them/],
      [V1.secret, 'wrong-prefix', /whsec_ secret: it signs v1/],
      [VECTOR.secretKey.slice('whsk_'.length), 'wrong-prefix', /whsk_ followed by/],
      ['whsk_', 'empty', /empty/],
      ['whsk_***', 'not-base64', /not base64/],
      // libsodium's and Go's 64-byte form: seed, then public key
      [`whsk_${Buffer.concat([seed, parseStandardWebhooksPublicKey(pair.publicKey)]).toString('base64')}`, 'wrong-length', /64 bytes.*the seed is the first 32/],
      [new Uint8Array(16), 'wrong-length', /16 bytes/],
      [null, 'wrong-type', /string or bytes/]
    ]
    for (const [key, reason, message] of cases) {
      expect(() => parseStandardWebhooksSecretKey(key as string)).toThrow(refusedWith({ name: 'InvalidWebhookSecretError', reason, message: expect.stringMatching(message) }))
      expect(() => signStandardWebhookAsymmetric(key as string, { id: 'msg_1', timestamp: 1, payload: '' })).toThrow(refusedWith({ name: 'InvalidWebhookSecretError', reason }))
    }
    expect(() => signStandardWebhookAsymmetric(pair.secretKey, { id: 'msg.1', timestamp: 1, payload: '' })).toThrow(refusedWith({ name: 'MalformedWebhookHeaderError', header: 'webhook-id' }))
    expect(() => signStandardWebhookAsymmetric(pair.secretKey, { id: 'msg_1', timestamp: -1, payload: '' })).toThrow(refusedWith({ name: 'MalformedWebhookHeaderError', header: 'webhook-timestamp' }))
  })

  it('never takes an ed25519 key as a v1 HMAC secret (a public key is public)', () => {
    const pair = generateStandardWebhooksKeyPair()
    for (const key of [pair.publicKey, pair.secretKey]) {
      expect(() => verifyStandardWebhook(key, headersOf(V1.signature), VECTOR.payload, at())).toThrow(refusedWith({ name: 'InvalidWebhookSecretError', reason: 'wrong-prefix' }))
      expect(() => signStandardWebhook(key, { id: 'msg_1', timestamp: 1, payload: '' })).toThrow(refusedWith({ name: 'InvalidWebhookSecretError', reason: 'wrong-prefix' }))
    }
  })

  it('generates key pairs that sign and verify, with the sizes and prefixes the spec gives', () => {
    const pair = generateStandardWebhooksKeyPair()
    expect(pair.publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/)
    expect(pair.secretKey).toMatch(/^whsk_[A-Za-z0-9+/]{43}=$/)
    expect(standardWebhooksPublicKeyOf(pair.secretKey)).toBe(pair.publicKey)
    expect(generateStandardWebhooksKeyPair().secretKey).not.toBe(pair.secretKey)
    const message = { id: 'msg_x', timestamp: 1700000000, payload: 'body' }
    const signature = signStandardWebhookAsymmetric(pair.secretKey, message)
    expect(signature).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/)
    const headers = { 'webhook-id': message.id, 'webhook-timestamp': String(message.timestamp), 'webhook-signature': signature }
    expect(verifyStandardWebhookAsymmetric(pair.publicKey, headers, 'body', { now: () => message.timestamp * 1000 }).id).toBe('msg_x')
    // the signature is plain ed25519 over `{id}.{timestamp}.{body}`, as any ed25519 library checks it
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(parseStandardWebhooksPublicKey(pair.publicKey)).toString('base64url') }, format: 'jwk' })
    expect(verify(null, Buffer.from('msg_x.1700000000.body'), key, Buffer.from(signature.slice(4), 'base64'))).toBe(true)
  })
})

// Edwards25519 arithmetic (RFC 8032 §5.1), in BigInt, to check the small-order keys on the curve
// itself rather than trust a list.
const P = 2n ** 255n - 19n
const mod = (a: bigint) => ((a % P) + P) % P
const pow = (base: bigint, exp: bigint) => {
  let result = 1n
  let b = mod(base)
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) result = mod(result * b)
    b = mod(b * b)
  }
  return result
}
const inv = (a: bigint) => pow(a, P - 2n)
const D = mod(-121665n * inv(121666n))
const SQRT_M1 = pow(2n, (P - 1n) / 4n)
type Point = readonly [bigint, bigint]

/** The point an encoding names, or undefined when it names none (RFC 8032 §5.1.3). */
function decode(bytes: Uint8Array): Point | undefined {
  const copy = Buffer.from(bytes)
  const sign = BigInt((copy[31] as number) >> 7)
  copy[31] = (copy[31] as number) & 0x7f
  const y = BigInt(`0x${Buffer.from(copy).reverse().toString('hex')}`)
  if (y >= P) return undefined
  const u = mod(y * y - 1n)
  const v = mod(D * y * y + 1n)
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n))
  if (mod(v * x * x) !== u) {
    if (mod(v * x * x) !== mod(-u)) return undefined
    x = mod(x * SQRT_M1)
  }
  if (x === 0n && sign === 1n) return undefined
  if ((x & 1n) !== sign) x = mod(-x)
  return [x, y]
}

function add([x1, y1]: Point, [x2, y2]: Point): Point {
  const t = mod(D * x1 * x2 * y1 * y2)
  return [mod((x1 * y2 + y1 * x2) * inv(1n + t)), mod((y1 * y2 + x1 * x2) * inv(1n - t))]
}

const timesEight = (point: Point): Point => {
  let q = point
  for (let i = 0; i < 3; i++) q = add(q, q)
  return q
}

describe('weak ed25519 public keys', () => {
  // The y-coordinates of the points of order 1, 2, 4 and 8 (libsodium's list), little-endian hex.
  const SMALL_ORDER = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
    'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'
  ].map((hex) => Buffer.from(hex, 'hex'))
  // y = p and y = p + 1: non-canonical spellings of 0 and 1
  const NON_CANONICAL = ['edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'].map((hex) =>
    Buffer.from(hex, 'hex')
  )
  const withSign = (bytes: Buffer) => {
    const copy = Buffer.from(bytes)
    copy[31] = (copy[31] as number) | 0x80
    return copy
  }

  it('the listed keys are the points of small order: eight times each is the identity (and not for a real key)', () => {
    for (const encoding of SMALL_ORDER) {
      const point = decode(encoding)
      expect(point, encoding.toString('hex')).toBeDefined()
      expect(timesEight(point as Point)).toEqual([0n, 1n])
    }
    const real = decode(parseStandardWebhooksPublicKey(VECTOR.publicKey)) as Point
    expect(timesEight(real)).not.toEqual([0n, 1n])
  })

  it('refuses each of them, with either sign bit, and the non-canonical encodings', () => {
    for (const key of [...SMALL_ORDER, ...SMALL_ORDER.map(withSign), ...NON_CANONICAL, ...NON_CANONICAL.map(withSign)]) {
      for (const form of [key, `whpk_${key.toString('base64')}`]) {
        expect(() => parseStandardWebhooksPublicKey(form), key.toString('hex')).toThrow(refusedWith({ name: 'InvalidWebhookSecretError', reason: 'weak-key' }))
      }
    }
    // a key next to one of them is an ordinary key
    const near = Buffer.from(SMALL_ORDER[0] as Buffer)
    near[0] = 2
    expect(parseStandardWebhooksPublicKey(near)).toHaveLength(32)
  })

  it('refuses the all-zero key, under which node:crypto accepts a forged all-zero signature', () => {
    const zeroKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.alloc(32).toString('base64url') }, format: 'jwk' })
    const forged = `v1a,${Buffer.alloc(64).toString('base64')}`
    // one message id in about four makes the forgery pass a bare ed25519 check
    let id = ''
    for (let i = 0; i < 200 && id === ''; i++) {
      if (verify(null, Buffer.from(`msg_${i}.${VECTOR.timestamp}.${VECTOR.payload}`), zeroKey, Buffer.alloc(64))) id = `msg_${i}`
    }
    expect(id).not.toBe('')
    expect(() => verifyStandardWebhookAsymmetric(`whpk_${Buffer.alloc(32).toString('base64')}`, headersOf(forged, VECTOR.timestamp, id), VECTOR.payload, at())).toThrow(
      refusedWith({ name: 'InvalidWebhookSecretError', reason: 'weak-key' })
    )
  })
})
