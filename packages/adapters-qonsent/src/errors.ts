/**
 * Thrown when a grant is malformed: a missing or mistyped field, a bad resource pattern, a bad
 * condition. `path` is a JSON pointer into the grant (`/conditions/ipCidr/1`).
 */
export class InvalidGrantError extends Error {
  static override readonly name = 'InvalidGrantError'
  override readonly name = 'InvalidGrantError'
  /** JSON pointer to the offending member of the grant (`''` for the grant itself). */
  readonly path: string
  /** The grant's id, when it had a readable one. */
  readonly grantId: string | undefined

  constructor(message = 'The grant is malformed', path = '', options: { grantId?: string | undefined; cause?: unknown } = {}) {
    super(path === '' ? message : `${message} (at ${path})`, options.cause === undefined ? undefined : { cause: options.cause })
    this.path = path
    this.grantId = options.grantId
  }
}

/**
 * Thrown when a resource pattern is malformed: empty, too long, an empty segment, `**` anywhere
 * but as the whole last segment, too many wildcards, whitespace or control characters.
 */
export class InvalidPatternError extends Error {
  static override readonly name = 'InvalidPatternError'
  override readonly name = 'InvalidPatternError'
  /** The pattern (cut to 128 characters). */
  readonly pattern: string
  /** The 0-based `:` segment at fault, when one is. */
  readonly segment: number | undefined

  constructor(message = 'The resource pattern is malformed', pattern = '', segment?: number) {
    super(segment === undefined ? message : `${message} (segment ${segment})`)
    this.pattern = pattern.length > 128 ? `${pattern.slice(0, 128)}…` : pattern
    this.segment = segment
  }
}

/**
 * Thrown when a grant's signature is missing where signatures are required, does not verify, or
 * was not made by the grant's `grantedBy`.
 */
export class GrantSignatureError extends Error {
  static override readonly name = 'GrantSignatureError'
  override readonly name = 'GrantSignatureError'
  /** The grant. */
  readonly grantId: string
  /** The identity that should have signed (`grantedBy`). */
  readonly signer: string
  /** What was wrong. */
  readonly problem: 'missing' | 'invalid' | 'signer-mismatch'

  constructor(grantId: string, signer: string, problem: 'missing' | 'invalid' | 'signer-mismatch', message?: string) {
    super(
      message ??
        (problem === 'missing'
          ? `Grant ${grantId} carries no signature and this Qonsent requires one`
          : problem === 'invalid'
            ? `Grant ${grantId}'s signature does not verify as ${signer}'s`
            : `Grant ${grantId} must be signed by its grantor ${signer}`)
    )
    this.grantId = grantId
    this.signer = signer
    this.problem = problem
  }
}

/** Thrown when a grant reuses the id of a different grant (or of a revoked one). */
export class DuplicateGrantError extends Error {
  static override readonly name = 'DuplicateGrantError'
  override readonly name = 'DuplicateGrantError'
  /** The id in use. */
  readonly grantId: string
  /** Whether the id belonged to a grant that was revoked (ids are never reused). */
  readonly revoked: boolean

  constructor(grantId: string, revoked = false) {
    super(revoked ? `Grant id ${grantId} belonged to a revoked grant; ids are never reused` : `A different grant already has id ${grantId}`)
    this.grantId = grantId
    this.revoked = revoked
  }
}

/** Thrown when revoking a grant id that is not known (or was already revoked). */
export class GrantNotFoundError extends Error {
  static override readonly name = 'GrantNotFoundError'
  override readonly name = 'GrantNotFoundError'
  /** The id asked for. */
  readonly grantId: string

  constructor(grantId: string, message = `No live grant has id ${grantId}`) {
    super(message)
    this.grantId = grantId
  }
}

/**
 * Thrown when an identity may not add or revoke a grant: with `enforceAuthority` on, a grantor
 * needs `share` (allow grants) or `admin` (deny rules, revoking others' grants) over the grant's
 * resource, or to be one of the configured authorities.
 */
export class NotAuthorizedError extends Error {
  static override readonly name = 'NotAuthorizedError'
  override readonly name = 'NotAuthorizedError'
  /** Who tried. */
  readonly actor: string
  /** What they tried: `grant` or `revoke`. */
  readonly operation: 'grant' | 'revoke'
  /** The grant concerned. */
  readonly grantId: string

  constructor(actor: string, operation: 'grant' | 'revoke', grantId: string, message?: string) {
    super(message ?? `${actor} may not ${operation} grant ${grantId}`)
    this.actor = actor
    this.operation = operation
    this.grantId = grantId
  }
}

/**
 * Thrown at start when a line of the grant log cannot be read back (not JSON, an unknown event,
 * a malformed grant, a revocation of an unknown grant). Nothing is rewritten: the file stays as
 * it was, every other line intact, and `line` says which one to repair.
 */
export class GrantLogCorruptError extends Error {
  static override readonly name = 'GrantLogCorruptError'
  override readonly name = 'GrantLogCorruptError'
  /** The log file. */
  readonly file: string
  /** The 1-based line number. */
  readonly line: number

  constructor(file: string, line: number, message = 'The line cannot be read', cause?: unknown) {
    super(`${file}:${line}: ${message}`, cause === undefined ? undefined : { cause })
    this.file = file
    this.line = line
  }
}

/** Thrown when appending to the grant log fails; the grant or revocation did not take effect. */
export class GrantLogWriteError extends Error {
  static override readonly name = 'GrantLogWriteError'
  override readonly name = 'GrantLogWriteError'
  /** The log file. */
  readonly file: string
  /** A failed write may succeed later (disk full, transient I/O error). */
  readonly retryable = true

  constructor(file: string, cause?: unknown) {
    super(`Could not append to ${file}`, cause === undefined ? undefined : { cause })
    this.file = file
  }
}

/** Thrown at start when another live process holds the data directory's lock. */
export class QonsentStoreLockedError extends Error {
  static override readonly name = 'QonsentStoreLockedError'
  override readonly name = 'QonsentStoreLockedError'
  /** The data directory. */
  readonly dataDir: string
  /** The process holding it, when known. */
  readonly pid: number | undefined

  constructor(dataDir: string, pid?: number) {
    super(`${dataDir} is in use by ${pid === undefined ? 'another process' : `process ${pid}`}`)
    this.dataDir = dataDir
    this.pid = pid
  }
}

/** Thrown when the embedded Qonsent is used before `start()` or after `stop()`. */
export class QonsentNotStartedError extends Error {
  static override readonly name = 'QonsentNotStartedError'
  override readonly name = 'QonsentNotStartedError'
  /** Start may simply not have finished yet. */
  readonly retryable = true

  constructor(message = 'The embedded Qonsent is not started: call start() first') {
    super(message)
  }
}

/** Thrown at construction when signatures are required but no identity verifier was given. */
export class MissingIdentityVerifierError extends Error {
  static override readonly name = 'MissingIdentityVerifierError'
  override readonly name = 'MissingIdentityVerifierError'

  constructor(message = 'requireSignatures is on but no identity verifier (components.identity) was given') {
    super(message)
  }
}

/**
 * Thrown when the Qonsent service cannot be reached or does not answer in time (connection
 * refused, reset, timeout, HTTP 408/429/5xx). Retrying later may succeed.
 */
export class QonsentUnavailableError extends Error {
  static override readonly name = 'QonsentUnavailableError'
  override readonly name = 'QonsentUnavailableError'
  /** Always true: the service may be back later. */
  readonly retryable = true
  /** The URL asked. */
  readonly url: string
  /** The HTTP status, when one came back. */
  readonly status: number | undefined

  constructor(url: string, message = `The Qonsent service at ${url} is unavailable`, options: { status?: number | undefined; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.url = url
    this.status = options.status
  }
}

/**
 * Thrown when the Qonsent service answers something that is not a check answer: not JSON, the
 * wrong shape, a body too large, or an HTTP error other than unavailability (400, 401, 404, ...).
 */
export class QonsentProtocolError extends Error {
  static override readonly name = 'QonsentProtocolError'
  override readonly name = 'QonsentProtocolError'
  /** Asking again unchanged gets the same answer. */
  readonly retryable = false
  /** The URL asked. */
  readonly url: string
  /** The HTTP status. */
  readonly status: number | undefined
  /** The service's error code, when it sent one (`VALIDATION_ERROR`, ...). */
  readonly code: string | undefined

  constructor(url: string, message = 'The Qonsent service answered something unexpected', options: { status?: number | undefined; code?: string | undefined; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.url = url
    this.status = options.status
    this.code = options.code
  }
}

/** Thrown by the HTTP client when a request cannot be sent as JSON (a bigint or a cycle in `context`). */
export class InvalidConsentRequestError extends Error {
  static override readonly name = 'InvalidConsentRequestError'
  override readonly name = 'InvalidConsentRequestError'
  /** The request's field at fault. */
  readonly field: string

  constructor(field: string, message = `The consent request's ${field} cannot be sent as JSON`, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.field = field
  }
}

/**
 * Thrown from a change stream whose consumer fell more than its buffer behind: some changes were
 * dropped, so the consumer must re-validate everything it holds.
 */
export class ChangeStreamOverflowError extends Error {
  static override readonly name = 'ChangeStreamOverflowError'
  override readonly name = 'ChangeStreamOverflowError'
  /** How many events the stream held when it overflowed. */
  readonly buffered: number

  constructor(buffered: number) {
    super(`The change stream fell ${buffered} events behind; re-validate and subscribe again`)
    this.buffered = buffered
  }
}
