import { createHash } from 'node:crypto'

/** The field prime 2^255 − 19. */
const P = 2n ** 255n - 19n
/** Edwards curve constant d = −121665/121666 mod p. */
const D = mod(-121665n * modPow(121666n, P - 2n, P))
/** A square root of −1 mod p. */
const SQRT_M1 = modPow(2n, (P - 1n) / 4n, P)

function mod(a: bigint): bigint {
  const r = a % P
  return r < 0n ? r + P : r
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n
  let b = base % modulus
  let e = exponent
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus
    b = (b * b) % modulus
    e >>= 1n
  }
  return result
}

function bytesToNumberLE(bytes: Uint8Array): bigint {
  let n = 0n
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number)
  return n
}

function numberToBytesLE(n: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length)
  let v = n
  for (let i = 0; i < length; i++) {
    out[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return out
}

/** The y coordinate of an encoded ed25519 point, or `undefined` when it is not canonical (y ≥ p). */
function edwardsY(publicKey: Uint8Array): bigint | undefined {
  if (publicKey.length !== 32) return undefined
  const y = bytesToNumberLE(publicKey) & ((1n << 255n) - 1n)
  return y < P ? y : undefined
}

/**
 * Whether 32 bytes encode a point of the ed25519 curve (RFC 8032 §5.1.3 decoding): y canonical
 * and (y² − 1)/(d·y² + 1) a square whose root matches the sign bit.
 */
export function isEd25519Point(publicKey: Uint8Array): boolean {
  const y = edwardsY(publicKey)
  if (y === undefined) return false
  const sign = ((publicKey[31] as number) >> 7) & 1
  const y2 = mod(y * y)
  const u = mod(y2 - 1n)
  const v = mod(D * y2 + 1n)
  const v3 = mod(v * v * v)
  const v7 = mod(v3 * v3 * v)
  let x = mod(u * v3 * modPow(mod(u * v7), (P - 5n) / 8n, P))
  const vx2 = mod(v * x * x)
  if (vx2 !== u) {
    if (vx2 !== mod(-u)) return false
    x = mod(x * SQRT_M1)
  }
  if (x === 0n && sign === 1) return false
  return true
}

/**
 * Converts an ed25519 public key to its X25519 (Montgomery) form: u = (1 + y) / (1 − y) mod p, the
 * same map as libsodium's `crypto_sign_ed25519_pk_to_curve25519`.
 *
 * @returns `undefined` when the key is not 32 bytes, y is not canonical, or y = 1 (the identity point).
 */
export function edwardsToMontgomery(publicKey: Uint8Array): Uint8Array | undefined {
  const y = edwardsY(publicKey)
  if (y === undefined || y === 1n) return undefined
  const u = mod((1n + y) * modPow(mod(1n - y), P - 2n, P))
  return numberToBytesLE(u, 32)
}

/**
 * The X25519 private key of an ed25519 seed: the first 32 bytes of SHA-512(seed), clamped, as
 * libsodium's `crypto_sign_ed25519_sk_to_curve25519` makes it.
 */
export function x25519PrivateFromSeed(seed: Uint8Array): Uint8Array {
  const h = createHash('sha512').update(seed).digest()
  const d = new Uint8Array(h.subarray(0, 32))
  h.fill(0)
  d[0] = (d[0] as number) & 248
  d[31] = ((d[31] as number) & 127) | 64
  return d
}
