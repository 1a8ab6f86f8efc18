/** Shortens untrusted text before it goes into an error message. */
export function excerpt(value: unknown, max = 80): string {
  const text = typeof value === 'string' ? value : String(value)
  return text.length <= max ? text : `${text.slice(0, max)}…`
}

/** A time for an error message: ISO 8601 when representable, the raw number otherwise. */
function isoTime(ms: number): string {
  const date = new Date(ms)
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString()
}

/**
 * Base of every error this package throws: callers branch on `name`; `retryable` says whether
 * the same input may pass later unchanged (a credential that is not valid *yet*).
 */
export class SquidError extends Error {
  static override readonly name: string = 'SquidError'
  override readonly name: string = 'SquidError'
  /** Whether the same input may succeed later unchanged. */
  readonly retryable: boolean = false
}

/** Thrown when a string is not a well-formed identity: not an ed25519 `did:key`, nor a legacy `squid:`/`did:squid:` id. */
export class InvalidDidError extends SquidError {
  static override readonly name = 'InvalidDidError'
  override readonly name = 'InvalidDidError'
  /** The offending identifier (shortened). */
  readonly did: string

  constructor(did: unknown, reason = 'not a valid identity') {
    super(`Invalid identity ${JSON.stringify(excerpt(did))}: ${reason}`)
    this.did = excerpt(did)
  }
}

/** Thrown when key material is unusable: wrong length, not a point of the curve, a low-order X25519 key. */
export class InvalidKeyError extends SquidError {
  static override readonly name = 'InvalidKeyError'
  override readonly name = 'InvalidKeyError'

  constructor(message = 'Invalid key material') {
    super(message)
  }
}

/** Thrown when a legacy identity has no registered public key, so nothing it signed can be checked. */
export class UnknownIdentityError extends SquidError {
  static override readonly name = 'UnknownIdentityError'
  override readonly name = 'UnknownIdentityError'
  /** The identity that could not be resolved. */
  readonly did: string

  constructor(did: string) {
    super(`No public key is registered for ${excerpt(did)} (legacy identities need a KeyResolver entry)`)
    this.did = excerpt(did)
  }
}

/** Thrown when the signature of a delegation or a revocation list does not verify under its issuer's key. */
export class InvalidSignatureError extends SquidError {
  static override readonly name = 'InvalidSignatureError'
  override readonly name = 'InvalidSignatureError'
  /** The identity the signature claims to be from. */
  readonly signer: string
  /** Position in the delegation chain, when it is one. */
  readonly index: number | undefined

  constructor(signer: string, what = 'delegation', index?: number) {
    super(`The ${what} signature${index === undefined ? '' : ` at chain position ${index}`} is not a valid signature by ${excerpt(signer)}`)
    this.signer = excerpt(signer)
    this.index = index
  }
}

/** Thrown when a delegation is not a well-formed v1 delegation (missing or mistyped field, unknown field). */
export class DelegationMalformedError extends SquidError {
  static override readonly name = 'DelegationMalformedError'
  override readonly name = 'DelegationMalformedError'
  /** Position in the chain, when the delegation came in one. */
  readonly index: number | undefined
  /** JSON pointer to the offending field inside the delegation. */
  readonly pointer: string

  constructor(reason: string, pointer = '', index?: number) {
    super(`Malformed delegation${index === undefined ? '' : ` at chain position ${index}`}${pointer === '' ? '' : ` (at ${pointer})`}: ${reason}`)
    this.index = index
    this.pointer = pointer
  }
}

/** Thrown when a delegation in a chain has expired at the time it is judged. */
export class DelegationExpiredError extends SquidError {
  static override readonly name = 'DelegationExpiredError'
  override readonly name = 'DelegationExpiredError'
  /** The expired delegation's id. */
  readonly delegationId: string
  /** When it expired, ms since the epoch. */
  readonly expiresAt: number
  /** Its position in the chain. */
  readonly index: number

  constructor(delegationId: string, expiresAt: number, index: number) {
    super(`Delegation ${delegationId} at chain position ${index} expired at ${isoTime(expiresAt)}`)
    this.delegationId = delegationId
    this.expiresAt = expiresAt
    this.index = index
  }
}

/** Thrown when a delegation in a chain is not valid yet at the time it is judged (retryable). */
export class DelegationNotYetValidError extends SquidError {
  static override readonly name = 'DelegationNotYetValidError'
  override readonly name = 'DelegationNotYetValidError'
  override readonly retryable = true
  /** The delegation's id. */
  readonly delegationId: string
  /** When it becomes valid, ms since the epoch. */
  readonly notBefore: number
  /** Its position in the chain. */
  readonly index: number

  constructor(delegationId: string, notBefore: number, index: number) {
    super(`Delegation ${delegationId} at chain position ${index} is not valid before ${isoTime(notBefore)}`)
    this.delegationId = delegationId
    this.notBefore = notBefore
    this.index = index
  }
}

/** Thrown when a delegation in a chain has been revoked. */
export class DelegationRevokedError extends SquidError {
  static override readonly name = 'DelegationRevokedError'
  override readonly name = 'DelegationRevokedError'
  /** The revoked delegation's id. */
  readonly delegationId: string
  /** Its position in the chain. */
  readonly index: number

  constructor(delegationId: string, index: number) {
    super(`Delegation ${delegationId} at chain position ${index} has been revoked`)
    this.delegationId = delegationId
    this.index = index
  }
}

/** Why a delegation chain does not hold together. */
export type DelegationChainFault =
  | 'empty'
  | 'too-long'
  | 'broken-link'
  | 'wrong-leaf'
  | 'capability-escalation'
  | 'window-escalation'
  | 'not-delegated'

/**
 * Thrown when a delegation chain does not hold together: empty or too long, a link whose issuer
 * is not the previous link's subject, a chain that does not end at the actor, a link that claims
 * capabilities or a validity window its parent does not have, or a token that speaks for an
 * identity without a chain linking the two.
 */
export class DelegationChainError extends SquidError {
  static override readonly name = 'DelegationChainError'
  override readonly name = 'DelegationChainError'
  /** What is wrong. */
  readonly fault: DelegationChainFault
  /** The position of the offending link, when there is one. */
  readonly index: number | undefined

  constructor(fault: DelegationChainFault, message: string, index?: number) {
    super(message)
    this.fault = fault
    this.index = index
  }
}

/** Thrown when a token is not a well-formed compact JWS with the claims an sQuid token needs. */
export class TokenMalformedError extends SquidError {
  static override readonly name = 'TokenMalformedError'
  override readonly name = 'TokenMalformedError'

  constructor(reason: string) {
    super(`Malformed identity token: ${reason}`)
  }
}

/** Thrown when a token's signature does not verify under its issuer's key (forged or tampered). */
export class TokenSignatureError extends SquidError {
  static override readonly name = 'TokenSignatureError'
  override readonly name = 'TokenSignatureError'
  /** The issuer the token claims. */
  readonly issuer: string

  constructor(issuer: string) {
    super(`The token's signature is not a valid signature by ${excerpt(issuer)}`)
    this.issuer = excerpt(issuer)
  }
}

/** Thrown when a token has expired at the time it is judged (allowing for clock skew). */
export class TokenExpiredError extends SquidError {
  static override readonly name = 'TokenExpiredError'
  override readonly name = 'TokenExpiredError'
  /** When it expired, ms since the epoch. */
  readonly expiresAt: number

  constructor(expiresAt: number) {
    super(`The identity token expired at ${isoTime(expiresAt)}`)
    this.expiresAt = expiresAt
  }
}

/** Thrown when a token is not valid yet (`nbf` or `iat` in the future beyond clock skew); retryable. */
export class TokenNotYetValidError extends SquidError {
  static override readonly name = 'TokenNotYetValidError'
  override readonly name = 'TokenNotYetValidError'
  override readonly retryable = true
  /** When it becomes valid, ms since the epoch. */
  readonly notBefore: number

  constructor(notBefore: number) {
    super(`The identity token is not valid before ${isoTime(notBefore)}`)
    this.notBefore = notBefore
  }
}

/** Thrown when a token does not name the audience the verifier expects. */
export class TokenAudienceError extends SquidError {
  static override readonly name = 'TokenAudienceError'
  override readonly name = 'TokenAudienceError'
  /** The audience that was expected. */
  readonly expected: string
  /** The audiences the token names. */
  readonly audience: readonly string[]

  constructor(expected: string, audience: readonly string[]) {
    super(`The identity token is for ${audience.map((a) => JSON.stringify(excerpt(a))).join(', ')}, not for ${JSON.stringify(excerpt(expected))}`)
    this.expected = expected
    this.audience = audience.map((a) => excerpt(a))
  }
}

/** Thrown when a token is neither issued by nor for the identity the verifier expects. */
export class TokenSubjectError extends SquidError {
  static override readonly name = 'TokenSubjectError'
  override readonly name = 'TokenSubjectError'
  /** The identity that was expected. */
  readonly expected: string

  constructor(expected: string, issuer: string, subject: string) {
    super(`The identity token (issuer ${excerpt(issuer)}, subject ${excerpt(subject)}) is not issued by or for ${excerpt(expected)}`)
    this.expected = expected
  }
}

/** Thrown when a token claims a longer lifetime (`exp` − `iat`) than the verifier allows. */
export class TokenLifetimeError extends SquidError {
  static override readonly name = 'TokenLifetimeError'
  override readonly name = 'TokenLifetimeError'
  /** The lifetime the token claims, ms. */
  readonly lifetimeMs: number
  /** The longest lifetime allowed, ms. */
  readonly maxLifetimeMs: number

  constructor(lifetimeMs: number, maxLifetimeMs: number) {
    super(`The identity token lives ${lifetimeMs} ms; at most ${maxLifetimeMs} ms is allowed`)
    this.lifetimeMs = lifetimeMs
    this.maxLifetimeMs = maxLifetimeMs
  }
}

/** Thrown when a token's nonce (`jti`) was already used by its issuer: the token is replayed. */
export class TokenReplayedError extends SquidError {
  static override readonly name = 'TokenReplayedError'
  override readonly name = 'TokenReplayedError'
  /** The reused nonce. */
  readonly nonce: string

  constructor(nonce: string) {
    super(`The identity token's nonce ${JSON.stringify(excerpt(nonce))} was already used`)
    this.nonce = excerpt(nonce)
  }
}

/**
 * Thrown when the replay cache is full of live nonces and cannot remember another one: the token
 * is refused rather than accepted unprotected. Retryable once older tokens expire.
 */
export class ReplayCacheFullError extends SquidError {
  static override readonly name = 'ReplayCacheFullError'
  override readonly name = 'ReplayCacheFullError'
  override readonly retryable = true
  /** The cache's capacity. */
  readonly capacity: number

  constructor(capacity: number) {
    super(`The token replay cache holds ${capacity} unexpired nonces and cannot take another`)
    this.capacity = capacity
  }
}

/** Thrown when a keystore cannot be opened with the passphrase given (or its KDF header was altered). */
export class KeystorePassphraseError extends SquidError {
  static override readonly name = 'KeystorePassphraseError'
  override readonly name = 'KeystorePassphraseError'

  constructor(message = 'Wrong passphrase for this keystore') {
    super(message)
  }
}

/** Thrown when a keystore is not a readable keystore: not JSON, wrong shape, tampered ciphertext, keys that do not match their ids. */
export class KeystoreCorruptError extends SquidError {
  static override readonly name = 'KeystoreCorruptError'
  override readonly name = 'KeystoreCorruptError'

  constructor(reason: string, options?: { cause?: unknown }) {
    super(`Corrupt keystore: ${reason}`, options)
  }
}

/** Thrown when a keystore was written in a format version this package does not read. */
export class KeystoreVersionError extends SquidError {
  static override readonly name = 'KeystoreVersionError'
  override readonly name = 'KeystoreVersionError'
  /** The version found. */
  readonly version: unknown

  constructor(version: unknown, supported: number) {
    super(`Keystore format version ${excerpt(JSON.stringify(version))} is not supported (this package reads version ${supported})`)
    this.version = version
  }
}

/** Thrown when a revocation registry file cannot be read: revocations are never silently dropped. */
export class RevocationStoreCorruptError extends SquidError {
  static override readonly name = 'RevocationStoreCorruptError'
  override readonly name = 'RevocationStoreCorruptError'
  /** The file. */
  readonly path: string

  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super(`Corrupt revocation registry ${path}: ${reason}`, options)
    this.path = path
  }
}

/** Thrown when a string given as a delegation id is not one (`sha256-` + 43 base64url characters). */
export class InvalidDelegationIdError extends SquidError {
  static override readonly name = 'InvalidDelegationIdError'
  override readonly name = 'InvalidDelegationIdError'

  constructor(id: unknown) {
    super(`${JSON.stringify(excerpt(id))} is not a delegation id (sha256- followed by 43 base64url characters)`)
  }
}

/** Thrown when a signed revocation list is malformed, or comes from an issuer the importer does not trust. */
export class RevocationListError extends SquidError {
  static override readonly name = 'RevocationListError'
  override readonly name = 'RevocationListError'
  /** What is wrong. */
  readonly fault: 'malformed' | 'untrusted'

  constructor(fault: 'malformed' | 'untrusted', reason: string) {
    super(`Revocation list refused: ${reason}`)
    this.fault = fault
  }
}

/**
 * Thrown when a token was revoked: by itself (`scope: 'token'`, its issuer and `jti`), or with
 * every token its issuer or subject had been issued until a moment (`scope: 'identity'`).
 */
export class TokenRevokedError extends SquidError {
  static override readonly name = 'TokenRevokedError'
  override readonly name = 'TokenRevokedError'
  /** What the revocation named: this token, or every earlier token of an identity. */
  readonly scope: 'token' | 'identity'
  /** When it was revoked, ms since the epoch. */
  readonly revokedAt: number

  constructor(scope: 'token' | 'identity', revokedAt: number, detail: string) {
    super(`The identity token was revoked at ${isoTime(revokedAt)}: ${detail}`)
    this.scope = scope
    this.revokedAt = revokedAt
  }
}

/** Thrown when a token revocation names nothing revocable: a bad identity, nonce or time. */
export class InvalidTokenRevocationError extends SquidError {
  static override readonly name = 'InvalidTokenRevocationError'
  override readonly name = 'InvalidTokenRevocationError'
  /** Which field (a JSON pointer). */
  readonly path: string

  constructor(path: string, reason: string) {
    super(`Invalid token revocation at ${path}: ${reason}`)
    this.path = path
  }
}

/**
 * Thrown when the registry already remembers as many unexpired revoked tokens as it may: revoke
 * the identity instead (one entry covers every token it was issued). Retryable once some expire.
 */
export class TokenRevocationLimitError extends SquidError {
  static override readonly name = 'TokenRevocationLimitError'
  override readonly name = 'TokenRevocationLimitError'
  override readonly retryable = true
  /** The registry's capacity. */
  readonly capacity: number

  constructor(capacity: number) {
    super(`The token revocation registry holds ${capacity} unexpired revoked tokens and cannot take another; revoke the identity instead`)
    this.capacity = capacity
  }
}
