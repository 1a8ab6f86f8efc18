import { canonicalBytes } from '@qflow/canonical-json'
import type { DetachedSignature, IdentityVerifier, TokenExpectations, VerifiedToken } from '@qflow/pipeline'
import { DEFAULT_CLOCK_SKEW_MS, DEFAULT_MAX_TOKEN_LENGTH, DEFAULT_MAX_TOKEN_LIFETIME_MS, DEFAULT_VERIFIED_TOKEN_CACHE_SIZE } from './constants.js'
import { ChainVerifier, type ChainVerifierInit, type Delegation, type RevocationCheck, type SquidVerifiedDelegation } from './delegation.js'
import {
  DelegationChainError,
  TokenAudienceError,
  TokenExpiredError,
  TokenLifetimeError,
  TokenNotYetValidError,
  TokenReplayedError,
  TokenRevokedError,
  TokenSignatureError,
  TokenSubjectError
} from './errors.js'
import { inThreadSignatureCheck, type KeyResolver, PublicKeys, type SignatureCheck } from './keys.js'
import { type ReplayCache, replayCache } from './replay-cache.js'
import { BoundedMap } from './bounded-map.js'
import { type DecodedToken, decodeToken, type TokenClaims } from './token.js'
import type { TokenRevocationCheck } from './token-revocation.js'

/** Options of {@link squidVerifier}; every one has a default. */
export interface SquidVerifierInit extends ChainVerifierInit {
  /** The audience tokens must name when the caller does not say. Default none (any audience). */
  audience?: string
  /** Clock skew tolerated on token and delegation times, ms. Default 30 s. */
  clockSkewMs?: number
  /** Longest lifetime (`exp` − `iat`) a token may claim, ms. Default 15 minutes. */
  maxTokenLifetimeMs?: number
  /** Longest token accepted, characters. Default 16 KiB. */
  maxTokenLength?: number
  /**
   * Whether tokens are single-use: a second token with an issuer's `jti` is refused. Default
   * true. While on, a token must also be unexpired by the local clock (not only at the time the
   * caller judges it at), because nonces are remembered only until then.
   */
  replayProtection?: boolean
  /** Capacity of the replay cache made when none is injected. Default 100,000. */
  replayCacheSize?: number
  /**
   * With `replayProtection: false` (bearer tokens reused across requests), how many tokens whose
   * signature was found valid are remembered, so a reused token is not verified again. Only the
   * signature is remembered: lifetime, times, audience, subject and delegation (revocation) are
   * checked on every call. Default 10,000; 0 turns it off. Unused with replay protection on.
   */
  verifiedTokenCacheSize?: number
  /** The local clock, ms since the epoch. Default `Date.now`. */
  clock?: () => number
}

/** What {@link squidVerifier} may be given; all optional. */
export interface SquidVerifierComponents {
  /** Resolves legacy (`squid:`) identities' keys. `did:key` identities resolve themselves. */
  keys?: KeyResolver
  /** Revoked delegations; a chain holding one fails. Default none revoked. */
  revocations?: RevocationCheck
  /**
   * Revoked tokens and identities ({@link createTokenRevocationRegistry}): a token it covers is
   * refused with {@link TokenRevokedError}. Asked on every call, after the signature and times.
   * Default none revoked.
   */
  tokenRevocations?: TokenRevocationCheck
  /** Where token nonces are remembered; share one between verifiers. Default a private cache. */
  replayCache?: ReplayCache
  /**
   * Checks token and payload signatures. Default {@link inThreadSignatureCheck}; a node with a
   * busy event loop passes `offThreadSignatureCheck()` (and closes it when done).
   */
  signatures?: SignatureCheck
}

/** A verified token, with the facts this package adds to the pipeline's. */
export interface SquidVerifiedToken extends VerifiedToken {
  /** The root identity the subject acts under (the subject itself unless delegated). */
  readonly root: string
  /** When the token was issued, ms since the epoch. */
  readonly issuedAt: number
  /** The token's delegation chain, verified, when it carries one. */
  readonly delegation?: SquidVerifiedDelegation
}

/** The pipeline's {@link IdentityVerifier} for sQuid identities, with sQuid's richer results. */
export interface SquidVerifier extends IdentityVerifier {
  /**
   * Verifies an identity token: shape, signature, lifetime, times, audience, expected subject,
   * revocation, delegation chain, then single use.
   *
   * @throws {@link TokenMalformedError}, {@link TokenSignatureError}, {@link TokenLifetimeError},
   * {@link TokenNotYetValidError}, {@link TokenExpiredError}, {@link TokenAudienceError},
   * {@link TokenSubjectError}, {@link TokenRevokedError}, the delegation errors, {@link TokenReplayedError},
   * {@link ReplayCacheFullError}, {@link UnknownIdentityError}.
   */
  verifyToken(token: string, expected?: TokenExpectations): Promise<SquidVerifiedToken>
  /**
   * Whether `signature` is `did`'s ed25519 signature over `data`.
   *
   * @throws {@link InvalidDidError} for a malformed did; {@link UnknownIdentityError} for an unregistered legacy id.
   */
  verifySignature(did: string, data: Uint8Array, signature: Uint8Array): Promise<boolean>
  /**
   * Verifies a delegation chain (root first) down to `leaf` at `at` (default now).
   *
   * @throws {@link DelegationMalformedError}, {@link DelegationChainError}, {@link InvalidSignatureError},
   * {@link DelegationRevokedError}, {@link DelegationNotYetValidError}, {@link DelegationExpiredError}.
   */
  verifyDelegation(chain: readonly unknown[], leaf: string, at?: number): Promise<SquidVerifiedDelegation>
  /** Whether `signature` is its signer's signature over `value`'s canonical bytes. */
  verifyPayload(value: unknown, signature: DetachedSignature): Promise<boolean>
}

class SquidIdentityVerifier implements SquidVerifier {
  private readonly keys: PublicKeys
  private readonly chains: ChainVerifier
  private readonly replay: ReplayCache | undefined
  private readonly clock: () => number
  private readonly skew: number
  private readonly maxLifetime: number
  private readonly maxLength: number
  private readonly audience: string | undefined
  private readonly signatures: SignatureCheck
  private readonly tokenRevocations: TokenRevocationCheck | undefined
  /** Tokens (the whole string) whose signature verified, when tokens may be reused. */
  private readonly verifiedTokens: BoundedMap<string, DecodedToken> | undefined

  constructor(init: SquidVerifierInit, components: SquidVerifierComponents) {
    this.keys = new PublicKeys(components.keys)
    this.chains = new ChainVerifier(init, this.keys, components.revocations)
    this.replay =
      init.replayProtection === false
        ? undefined
        : (components.replayCache ?? replayCache(init.replayCacheSize === undefined ? {} : { capacity: init.replayCacheSize }))
    this.clock = init.clock ?? Date.now
    this.skew = init.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS
    this.maxLifetime = init.maxTokenLifetimeMs ?? DEFAULT_MAX_TOKEN_LIFETIME_MS
    this.maxLength = init.maxTokenLength ?? DEFAULT_MAX_TOKEN_LENGTH
    this.audience = init.audience
    this.signatures = components.signatures ?? inThreadSignatureCheck
    this.tokenRevocations = components.tokenRevocations
    const cacheSize = init.verifiedTokenCacheSize ?? DEFAULT_VERIFIED_TOKEN_CACHE_SIZE
    this.verifiedTokens = this.replay === undefined && cacheSize > 0 ? new BoundedMap(cacheSize) : undefined
  }

  /** The token decoded, with its signature checked (or found checked before). */
  private async signedClaims(token: string): Promise<TokenClaims> {
    const known = this.verifiedTokens?.get(token)
    if (known !== undefined) return known.claims
    const decoded = decodeToken(token, this.maxLength)
    const key = await this.keys.verifying(decoded.claims.iss)
    if (!(await this.signatures.verify(key, decoded.signingInput, decoded.signature))) throw new TokenSignatureError(decoded.claims.iss)
    this.verifiedTokens?.set(token, decoded)
    return decoded.claims
  }

  async verifyToken(token: string, expected: TokenExpectations = {}): Promise<SquidVerifiedToken> {
    const claims = await this.signedClaims(token)

    const issuedAt = claims.iat * 1000
    const tokenExpiresAt = claims.exp * 1000
    if (tokenExpiresAt - issuedAt > this.maxLifetime) throw new TokenLifetimeError(tokenExpiresAt - issuedAt, this.maxLifetime)
    const notBefore = claims.nbf === undefined ? undefined : claims.nbf * 1000
    const start = Math.max(issuedAt, notBefore ?? issuedAt)
    const local = this.clock()
    const at = expected.now ?? local
    if (at + this.skew < start) throw new TokenNotYetValidError(start)
    if (at - this.skew >= tokenExpiresAt) throw new TokenExpiredError(tokenExpiresAt)
    if (this.replay !== undefined && local - this.skew >= tokenExpiresAt) throw new TokenExpiredError(tokenExpiresAt)

    const audience = typeof claims.aud === 'string' ? [claims.aud] : [...claims.aud]
    const wanted = expected.audience ?? this.audience
    if (wanted !== undefined && !audience.includes(wanted)) throw new TokenAudienceError(wanted, audience)
    if (expected.subject !== undefined && expected.subject !== claims.iss && expected.subject !== claims.sub) {
      throw new TokenSubjectError(expected.subject, claims.iss, claims.sub)
    }
    const revoked = this.tokenRevocations?.revocationOf({ issuer: claims.iss, subject: claims.sub, nonce: claims.jti, issuedAt })
    if (revoked !== undefined) {
      throw revoked.kind === 'token'
        ? new TokenRevokedError('token', revoked.revokedAt, `its nonce was revoked${revoked.reason === undefined ? '' : ` (${revoked.reason})`}`)
        : new TokenRevokedError(
            'identity',
            revoked.revokedAt,
            `every token of ${revoked.identity} issued before ${new Date(revoked.before).toISOString()} is refused${revoked.reason === undefined ? '' : ` (${revoked.reason})`}`
          )
    }

    let capabilities = claims.cap
    let delegation: SquidVerifiedDelegation | undefined
    if (claims.dlg !== undefined) {
      delegation = await this.chains.verify(claims.dlg, claims.sub, at)
      if (claims.iss !== claims.sub && !(claims.dlg as readonly Delegation[]).some((link) => link.issuer === claims.iss)) {
        throw new DelegationChainError('not-delegated', `The token's issuer ${claims.iss} is not in the delegation chain of ${claims.sub}`)
      }
      const held = new Set(delegation.capabilities)
      if (capabilities === undefined) capabilities = delegation.capabilities
      else {
        const extra = capabilities.filter((c) => !held.has(c))
        if (extra.length > 0) {
          throw new DelegationChainError('capability-escalation', `The token claims ${extra.map((c) => JSON.stringify(c)).join(', ')} which its delegation chain does not grant`)
        }
      }
    } else if (claims.iss !== claims.sub) {
      throw new DelegationChainError('not-delegated', `The token is signed by ${claims.iss} for ${claims.sub} without a delegation chain linking them`)
    }

    if (this.replay !== undefined && !this.replay.remember(`${claims.iss} ${claims.jti}`, tokenExpiresAt + this.skew, local)) {
      throw new TokenReplayedError(claims.jti)
    }

    const verified: {
      -readonly [K in keyof SquidVerifiedToken]: SquidVerifiedToken[K]
    } = {
      issuer: claims.iss,
      subject: claims.sub,
      audience,
      expiresAt: delegation === undefined ? tokenExpiresAt : Math.min(tokenExpiresAt, delegation.expiresAt),
      nonce: claims.jti,
      root: delegation?.root ?? claims.sub,
      issuedAt
    }
    if (notBefore !== undefined) verified.notBefore = notBefore
    if (capabilities !== undefined) verified.capabilities = [...capabilities]
    if (delegation !== undefined) verified.delegation = delegation
    return verified
  }

  async verifySignature(did: string, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    return this.signatures.verify(await this.keys.verifying(did), data, signature)
  }

  verifyDelegation(chain: readonly unknown[], leaf: string, at?: number): Promise<SquidVerifiedDelegation> {
    return this.chains.verify(chain, leaf, at ?? this.clock())
  }

  async verifyPayload(value: unknown, signature: DetachedSignature): Promise<boolean> {
    const candidate = signature as Partial<DetachedSignature> | null
    if (typeof candidate !== 'object' || candidate === null || candidate.alg !== 'EdDSA' || !(candidate.value instanceof Uint8Array)) return false
    const key = await this.keys.verifying(candidate.signer as string)
    return this.signatures.verify(key, value instanceof Uint8Array ? value : canonicalBytes(value), candidate.value)
  }
}

/**
 * The sQuid {@link IdentityVerifier} for the Qlock stage: `qlockStage({ audience })({ identity: squidVerifier()() })`.
 *
 * @example
 * ```ts
 * const verifier = squidVerifier({ audience: 'qflow:node:1' })({ revocations: await createRevocationRegistry() })
 * const facts = await verifier.verifyToken(token)
 * ```
 */
export function squidVerifier(init: SquidVerifierInit = {}): (components?: SquidVerifierComponents) => SquidVerifier {
  return (components = {}) => new SquidIdentityVerifier(init, components)
}
