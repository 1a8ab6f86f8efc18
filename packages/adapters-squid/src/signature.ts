import { canonicalBytes } from '@qflow/canonical-json'
import type { DetachedSignature, Signer } from '@qflow/pipeline'
import { ed25519Verify, type KeyResolver, PublicKeys } from './keys.js'

/**
 * Signs a JSON value as `signer`: ed25519 over the value's RFC 8785 canonical bytes (raw bytes
 * are signed as they are).
 *
 * @throws `CanonicalizationError` (from `@qflow/canonical-json`) when the value has no JSON form.
 */
export async function signPayload(signer: Signer, value: unknown): Promise<DetachedSignature> {
  const bytes = value instanceof Uint8Array ? value : canonicalBytes(value)
  return { alg: 'EdDSA', signer: signer.did, value: await signer.sign(bytes) }
}

/**
 * Whether `signature` is its signer's ed25519 signature over `value`'s canonical bytes (raw bytes
 * as they are). A malformed signature object verifies as `false`.
 *
 * @param keys - Resolves legacy (`squid:`) signers; `did:key` signers resolve themselves.
 * @throws `InvalidDidError` when the signer is not an identity; `UnknownIdentityError` when a legacy signer has no registered key.
 */
export async function verifyPayload(value: unknown, signature: DetachedSignature, keys?: KeyResolver): Promise<boolean> {
  const candidate = signature as Partial<DetachedSignature> | null
  if (typeof candidate !== 'object' || candidate === null || candidate.alg !== 'EdDSA' || !(candidate.value instanceof Uint8Array)) return false
  const key = await new PublicKeys(keys).get(candidate.signer as string)
  const bytes = value instanceof Uint8Array ? value : canonicalBytes(value)
  return ed25519Verify(key, bytes, candidate.value)
}
