import { createPrivateKey, createPublicKey, type KeyObject, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto'
import { SIGNATURE_ALG } from './constants.js'
import { didKeyFromPublicKey, publicKeyFromDidKey } from './did.js'
import { DidKeyError, FlowSignatureError, type FlowSignatureReason, SigningKeyError } from './errors.js'
import { flowCanonicalBytes, hashOfCanonicalBytes } from './hash.js'
import { LruCache } from './lru.js'
import type { Flow, FlowSignature } from './types.js'

/** Signs bytes as an identity. */
export interface FlowSigner {
  /** DID of the signer; it goes into the signature block. */
  readonly did: string
  /** Returns the ed25519 signature of `bytes`. */
  sign(bytes: Uint8Array): Promise<Uint8Array>
}

/** Checks signatures of identities. */
export interface FlowVerifier {
  /**
   * Whether `signature` is `did`'s signature of `bytes`. Throw {@link FlowSignatureError} with
   * reason `unknown-signer` (or a {@link DidKeyError}) when no key can be found for `did`.
   */
  verify(did: string, bytes: Uint8Array, signature: Uint8Array): Promise<boolean>
}

/** Options of {@link signFlow}. */
export interface SignFlowOptions {
  /** Time to record in `signedAt` (default: now); `false` leaves it out. */
  signedAt?: Date | false
}

/** A signature that holds. */
export interface FlowVerified {
  /** It holds. */
  valid: true
  /** Who signed. */
  signer: string
  /** The flow's hash (equal to the one signed). */
  hash: string
  /** Whether the signer is the flow's `owner`. */
  signerIsOwner: boolean
  /** When it says it was signed (not covered by the signature). */
  signedAt?: string
}

/** A signature that does not hold. */
export interface FlowNotVerified {
  /** It does not hold. */
  valid: false
  /** Why. */
  reason: FlowSignatureReason
  /** The same as a typed error, to throw or log. */
  error: FlowSignatureError
  /** Who the signature claims signed, when it says. */
  signer?: string
}

/** What {@link verifyFlow} found. */
export type FlowVerification = FlowVerified | FlowNotVerified

const BASE64URL = /^[A-Za-z0-9_-]+$/

/**
 * Signs a flow: an ed25519 signature over {@link flowCanonicalBytes} (the flow without its
 * `signature`), stored as `signature: { alg: 'EdDSA', signer, value, hash, signedAt }`. Any
 * existing signature is replaced. The input is not modified.
 */
export async function signFlow(flow: Flow, signer: FlowSigner, options: SignFlowOptions = {}): Promise<Flow> {
  const bytes = flowCanonicalBytes(flow)
  const signature = await signer.sign(bytes)
  const block: FlowSignature = {
    alg: SIGNATURE_ALG,
    signer: signer.did,
    value: Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString('base64url'),
    hash: hashOfCanonicalBytes(bytes)
  }
  const at = options.signedAt ?? new Date()
  if (at !== false) block.signedAt = at.toISOString()
  const { signature: _old, ...rest } = flow
  return { ...rest, signature: block }
}

function notVerified(reason: FlowSignatureReason, message?: string, signer?: string, cause?: unknown): FlowNotVerified {
  const init: { signer?: string; cause?: unknown } = {}
  if (signer !== undefined) init.signer = signer
  if (cause !== undefined) init.cause = cause
  const result: FlowNotVerified = { valid: false, reason, error: new FlowSignatureError(reason, message, init) }
  if (signer !== undefined) result.signer = signer
  return result
}

/**
 * Verifies a flow's signature: the block is well formed, the flow's hash equals the signed `hash`
 * (else `hash-mismatch`: the flow changed after signing), and `verifier` accepts the signature
 * over the canonical bytes (else `bad-signature`). A verifier that finds no key for the signer
 * gives `unknown-signer`. Other errors of the verifier propagate. Check `signerIsOwner` (or the
 * signer) before trusting the flow: anyone can sign anything with their own key.
 */
export async function verifyFlow(flow: Flow, verifier: FlowVerifier): Promise<FlowVerification> {
  const block = (flow as { signature?: unknown }).signature
  if (block === undefined) return notVerified('missing')
  if (block === null || typeof block !== 'object') return notVerified('malformed', 'signature must be an object')
  const { alg, signer, value, hash, signedAt } = block as Record<string, unknown>
  if (typeof signer !== 'string' || signer === '') return notVerified('malformed', 'signature has no signer')
  if (alg !== SIGNATURE_ALG) return notVerified('malformed', `signature alg must be ${SIGNATURE_ALG}`, signer)
  if (typeof value !== 'string' || !BASE64URL.test(value)) return notVerified('malformed', 'signature value must be base64url', signer)
  const signature = new Uint8Array(Buffer.from(value, 'base64url'))
  if (signature.length !== 64 || Buffer.from(signature).toString('base64url') !== value) {
    return notVerified('malformed', 'signature value must be 64 bytes in unpadded base64url', signer)
  }
  if (typeof hash !== 'string') return notVerified('malformed', 'signature has no hash', signer)
  let bytes: Uint8Array
  try {
    bytes = flowCanonicalBytes(flow)
  } catch (err) {
    return notVerified('malformed', `flow has no canonical form: ${(err as Error).message}`, signer, err)
  }
  const actual = hashOfCanonicalBytes(bytes)
  if (actual !== hash) {
    return notVerified('hash-mismatch', `flow hash ${actual} differs from the signed hash ${hash}: the flow changed after it was signed`, signer)
  }
  let ok: boolean
  try {
    ok = await verifier.verify(signer, bytes, signature)
  } catch (err) {
    if (err instanceof FlowSignatureError) return notVerified(err.reason, err.message, signer, err)
    if (err instanceof DidKeyError) return notVerified('unknown-signer', `no key for signer ${signer}: ${err.message}`, signer, err)
    throw err
  }
  if (!ok) return notVerified('bad-signature', `signature by ${signer} does not verify`, signer)
  const result: FlowVerified = { valid: true, signer, hash: actual, signerIsOwner: signer === flow.owner }
  if (typeof signedAt === 'string') result.signedAt = signedAt
  return result
}

/**
 * Verifies a flow's signature and returns the verification.
 *
 * @throws {@link FlowSignatureError} (with its `reason`) when it does not hold.
 */
export async function assertFlowSignature(flow: Flow, verifier: FlowVerifier): Promise<FlowVerified> {
  const result = await verifyFlow(flow, verifier)
  if (!result.valid) throw result.error
  return result
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' })
  return new Uint8Array(Buffer.from(jwk.x as string, 'base64url'))
}

/**
 * A {@link FlowSigner} for an ed25519 private key (from `generateKeyPairSync('ed25519')` or
 * `createPrivateKey`); its DID is the key's `did:key`.
 *
 * @throws {@link SigningKeyError} when the key is not an ed25519 private key.
 */
export function ed25519Signer(privateKey: KeyObject): FlowSigner {
  if (privateKey?.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError()
  }
  const did = didKeyFromPublicKey(rawPublicKey(createPublicKey(privateKey)))
  return {
    did,
    sign: async (bytes) => new Uint8Array(cryptoSign(null, bytes, privateKey))
  }
}

/**
 * A {@link FlowVerifier} for `did:key` ed25519 signers (the key is in the DID). Other DIDs (such
 * as legacy `squid:…` ids) have no key here: they give `unknown-signer`.
 */
export function ed25519Verifier(): FlowVerifier {
  const keys = new LruCache<string, KeyObject>(1000)
  return {
    verify: async (did, bytes, signature) => {
      let key = keys.get(did)
      if (key === undefined) {
        let raw: Uint8Array
        try {
          raw = publicKeyFromDidKey(did)
        } catch (err) {
          throw new FlowSignatureError('unknown-signer', `no ed25519 key for ${did}: ${(err as Error).message}`, { signer: did, cause: err })
        }
        key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' })
        keys.set(did, key)
      }
      if (signature.length !== 64) return false
      return cryptoVerify(null, bytes, key, signature)
    }
  }
}

/** An ed25519 private key from its 32-byte seed (the "secret key" of RFC 8032). */
export function ed25519PrivateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new SigningKeyError('an ed25519 seed is 32 bytes')
  const prefix = Buffer.from('302e020100300506032b657004220420', 'hex')
  return createPrivateKey({ key: Buffer.concat([prefix, seed]), format: 'der', type: 'pkcs8' })
}
