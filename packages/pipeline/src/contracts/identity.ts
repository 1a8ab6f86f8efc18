/** A detached signature and who made it. */
export interface DetachedSignature {
  /** The algorithm; Qflow signs with `EdDSA` (ed25519). */
  readonly alg: 'EdDSA'
  /** The signer's identity (`did:key:z6Mk…`). */
  readonly signer: string
  /** The signature bytes. */
  readonly value: Uint8Array
}

/** Something that signs as an identity, without handing out its private key. */
export interface Signer {
  /** The identity that signs. */
  readonly did: string
  /** Signs the bytes (ed25519 over the bytes as given). */
  sign(data: Uint8Array): Promise<Uint8Array>
}

/** What a token must satisfy besides a good signature. */
export interface TokenExpectations {
  /** The audience the token must name (this node or service). */
  readonly audience?: string
  /** The identity the token must be issued by or for. */
  readonly subject?: string
  /** The time to judge validity at, ms since the epoch; now when absent. */
  readonly now?: number
}

/** The facts of a verified identity token. */
export interface VerifiedToken {
  /** The identity that signed the token. */
  readonly issuer: string
  /** The identity the token speaks for (the issuer itself, or a sub-identity). */
  readonly subject: string
  /** The root identity the subject acts under, when the token carries a delegation chain. */
  readonly root?: string
  /** The audiences the token names. */
  readonly audience: readonly string[]
  /** Expiry, ms since the epoch. */
  readonly expiresAt: number
  /** Start of validity, ms since the epoch. */
  readonly notBefore?: number
  /** The token's single-use nonce. */
  readonly nonce: string
  /** Capabilities the token carries, when it is scoped. */
  readonly capabilities?: readonly string[]
}

/** A delegation chain that verified back to its root. */
export interface VerifiedDelegation {
  /** The root identity the chain starts from. */
  readonly root: string
  /** The identity at the end of the chain (the actor). */
  readonly leaf: string
  /** The capabilities the leaf holds (the intersection along the chain). */
  readonly capabilities: readonly string[]
  /** When the first delegation in the chain expires, ms since the epoch. */
  readonly expiresAt: number
}

/**
 * Verifies sQuid identities: tokens, detached signatures and delegation chains. Implementations
 * throw typed errors (expired, not yet valid, wrong audience, tampered, replayed, revoked) whose
 * `name` the Qlock stage reports as its halt code.
 */
export interface IdentityVerifier {
  /** Verifies an identity token and returns its facts. */
  verifyToken(token: string, expected?: TokenExpectations): Promise<VerifiedToken>
  /** Whether `signature` is `did`'s signature over `data`. */
  verifySignature(did: string, data: Uint8Array, signature: Uint8Array): Promise<boolean>
  /** Verifies a delegation chain from a root down to `leaf` at time `at`. */
  verifyDelegation(chain: readonly unknown[], leaf: string, at?: number): Promise<VerifiedDelegation>
}
