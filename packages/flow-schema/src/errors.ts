import type { FlowProblem } from './types.js'

/** What part of a document a {@link FlowParseError} was reading. */
export type FlowFormat = 'json' | 'yaml'

/**
 * Thrown when a flow document cannot be parsed: malformed JSON or YAML, a duplicate key, nesting
 * deeper than allowed, too many aliases or too large a document. `line` and `column` are 1-based.
 */
export class FlowParseError extends Error {
  static override readonly name = 'FlowParseError'
  override readonly name = 'FlowParseError'
  /** 1-based line of the problem. */
  readonly line: number
  /** 1-based column of the problem. */
  readonly column: number
  /** Which syntax was being parsed. */
  readonly format: FlowFormat
  /** Stable code: `syntax`, `duplicate-key`, `too-deep`, `too-large`, `too-many-aliases`, `not-json`. */
  readonly code: string

  constructor(message = 'Flow document cannot be parsed', init: { line?: number; column?: number; format?: FlowFormat; code?: string; cause?: unknown } = {}) {
    const line = init.line ?? 1
    const column = init.column ?? 1
    super(`${message} (line ${line}, column ${column})`, init.cause === undefined ? undefined : { cause: init.cause })
    this.line = line
    this.column = column
    this.format = init.format ?? 'json'
    this.code = init.code ?? 'syntax'
  }
}

/**
 * Thrown when a document is not a valid flow (by {@link assertValidFlow} and {@link loadFlow}).
 * `problems` lists every error at once, each with a JSON pointer; `warnings` the warnings.
 */
export class FlowValidationError extends Error {
  static override readonly name = 'FlowValidationError'
  override readonly name = 'FlowValidationError'
  /** The errors, each with a JSON pointer into the document. */
  readonly problems: readonly FlowProblem[]
  /** The warnings found along the way. */
  readonly warnings: readonly FlowProblem[]

  constructor(problems: readonly FlowProblem[] = [], warnings: readonly FlowProblem[] = [], message?: string) {
    const first = problems[0]
    super(
      message ??
        (first === undefined
          ? 'Invalid flow'
          : `Invalid flow: ${problems.length} problem${problems.length === 1 ? '' : 's'}; first at ${first.pointer || '/'}: ${first.message}`)
    )
    this.problems = problems
    this.warnings = warnings
  }
}

/** Why a flow's signature does not hold. */
export type FlowSignatureReason = 'missing' | 'malformed' | 'hash-mismatch' | 'bad-signature' | 'unknown-signer'

/**
 * Thrown (or returned inside a {@link FlowVerification}) when a flow's signature does not hold:
 * there is none, it is malformed, the flow changed since it was signed, the signature is wrong, or
 * the signer's key cannot be found.
 */
export class FlowSignatureError extends Error {
  static override readonly name = 'FlowSignatureError'
  override readonly name = 'FlowSignatureError'
  /** Why the signature does not hold. */
  readonly reason: FlowSignatureReason
  /** The signer named by the signature, when there is one. */
  readonly signer: string | undefined

  constructor(reason: FlowSignatureReason = 'bad-signature', message?: string, init: { signer?: string; cause?: unknown } = {}) {
    super(message ?? defaultSignatureMessage(reason), init.cause === undefined ? undefined : { cause: init.cause })
    this.reason = reason
    this.signer = init.signer
  }
}

function defaultSignatureMessage(reason: FlowSignatureReason): string {
  switch (reason) {
    case 'missing':
      return 'Flow is not signed'
    case 'malformed':
      return 'Flow signature block is malformed'
    case 'hash-mismatch':
      return 'Flow content does not match the hash it was signed with'
    case 'bad-signature':
      return 'Flow signature does not verify'
    case 'unknown-signer':
      return 'Flow signer is unknown: no key found for it'
  }
}

/** Thrown when a string is not an ed25519 `did:key` (or a key is not a 32-byte ed25519 public key). */
export class DidKeyError extends Error {
  static override readonly name = 'DidKeyError'
  override readonly name = 'DidKeyError'
  /** The offending DID, when there is one. */
  readonly did: string | undefined

  constructor(message = 'Not an ed25519 did:key', did?: string) {
    super(message)
    this.did = did
  }
}

/** Thrown when a signing key is not an ed25519 private key. */
export class SigningKeyError extends Error {
  static override readonly name = 'SigningKeyError'
  override readonly name = 'SigningKeyError'

  constructor(message = 'Signing key must be an ed25519 private key') {
    super(message)
  }
}

/**
 * Thrown when a JSONata expression does not compile. `position` is the 0-based character offset
 * in the expression where the parser stopped, when it says.
 */
export class FlowExpressionError extends Error {
  static override readonly name = 'FlowExpressionError'
  override readonly name = 'FlowExpressionError'
  /** The expression text. */
  readonly expression: string
  /** JSONata's error code (such as `S0202`), or `too-long` / `too-deep`. */
  readonly code: string
  /** 0-based character offset in the expression, when known. */
  readonly position: number | undefined

  constructor(message = 'Invalid expression', init: { expression?: string; code?: string; position?: number } = {}) {
    super(message)
    this.expression = init.expression ?? ''
    this.code = init.code ?? 'syntax'
    this.position = init.position
  }
}

/** Thrown when a cron expression is malformed or a field is out of range. */
export class CronParseError extends Error {
  static override readonly name = 'CronParseError'
  override readonly name = 'CronParseError'
  /** The expression. */
  readonly expression: string
  /** Name of the offending field (`minute`, `hour`, …), when the problem is in one field. */
  readonly field: string | undefined

  constructor(message = 'Invalid cron expression', init: { expression?: string; field?: string } = {}) {
    super(message)
    this.expression = init.expression ?? ''
    this.field = init.field
  }
}

/** Thrown when a JSON Schema does not compile (by {@link compileJsonSchema}). */
export class JsonSchemaError extends Error {
  static override readonly name = 'JsonSchemaError'
  override readonly name = 'JsonSchemaError'

  constructor(message = 'JSON Schema does not compile', init: { cause?: unknown } = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause })
  }
}

/** Thrown when an action is registered twice, or an action definition is malformed. */
export class ActionRegistryError extends Error {
  static override readonly name = 'ActionRegistryError'
  override readonly name = 'ActionRegistryError'
  /** The action's name. */
  readonly action: string

  constructor(message = 'Invalid action definition', action = '') {
    super(message)
    this.action = action
  }
}

/** Why a version operation was refused. */
export type FlowVersionReason = 'different-flow' | 'version-not-increasing' | 'invalid-version' | 'not-found' | 'empty-history'

/**
 * Thrown when a version operation cannot be done: versions that are not semver or do not increase,
 * a rollback target from another flow, or a version missing from the history.
 */
export class FlowVersionError extends Error {
  static override readonly name = 'FlowVersionError'
  override readonly name = 'FlowVersionError'
  /** Why. */
  readonly reason: FlowVersionReason

  constructor(reason: FlowVersionReason = 'invalid-version', message = 'Invalid flow version operation') {
    super(message)
    this.reason = reason
  }
}
