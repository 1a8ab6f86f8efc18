/**
 * Thrown when `observe()` is given an execution observation that is not well-formed (a missing
 * flow id, a negative or non-finite duration, a time that is not a number, ...).
 */
export class InvalidObservationError extends Error {
  static override readonly name = 'InvalidObservationError'
  override readonly name = 'InvalidObservationError'
  /** The field that was wrong (`durationMs`, `flowId`, ...), or `''` for the observation itself. */
  readonly field: string

  constructor(field = '', message = 'The observation is not well-formed') {
    super(field === '' ? message : `${message} (${field})`)
    this.field = field
  }
}

/** Thrown when a JSON Schema cannot be compiled (not a schema, an unknown `$ref`, a bad keyword value). */
export class InvalidSchemaError extends Error {
  static override readonly name = 'InvalidSchemaError'
  override readonly name = 'InvalidSchemaError'
  /** What the schema compiler said. */
  readonly errors: readonly string[]

  constructor(errors: readonly string[] = [], message = 'The JSON Schema is not valid') {
    super(errors.length === 0 ? message : `${message}: ${errors.join('; ')}`)
    this.errors = errors
  }
}

/**
 * Thrown by `checkIntegrity()` when the expectations themselves are malformed (a digest that is
 * not `sha256-…`, a signature without bytes, a schema that is neither an object nor a boolean).
 */
export class InvalidExpectationsError extends Error {
  static override readonly name = 'InvalidExpectationsError'
  override readonly name = 'InvalidExpectationsError'
  /** JSON pointer into the expectations to the offending field. */
  readonly pointer: string

  constructor(pointer = '', message = 'The integrity expectations are malformed') {
    super(pointer === '' ? message : `${message} (at ${pointer})`)
    this.pointer = pointer
  }
}

/** Thrown by the `qerberos()` factory when an option is out of range. */
export class InvalidQerberosInitError extends Error {
  static override readonly name = 'InvalidQerberosInitError'
  override readonly name = 'InvalidQerberosInitError'
  /** The option, as a dotted path (`anomaly.thresholds.low`). */
  readonly option: string

  constructor(option: string, message = 'Option out of range') {
    super(`${message}: ${option}`)
    this.option = option
  }
}

/** Thrown by `contain()` when a manual containment request is malformed. */
export class InvalidContainmentError extends Error {
  static override readonly name = 'InvalidContainmentError'
  override readonly name = 'InvalidContainmentError'
  /** The field that was wrong. */
  readonly field: string

  constructor(field: string, message = 'The containment request is malformed') {
    super(`${message} (${field})`)
    this.field = field
  }
}

/**
 * Thrown by `flushAudit()` (and `stop()`) when the audit file sink cannot write. The records
 * stay queued and are written by a later flush; `retryable` is true.
 */
export class AuditSinkError extends Error {
  static override readonly name = 'AuditSinkError'
  override readonly name = 'AuditSinkError'
  /** The JSONL file the sink writes. */
  readonly file: string
  /** Records still waiting to be written. */
  readonly pending: number
  /** A later flush may succeed. */
  readonly retryable = true

  constructor(file: string, pending: number, cause?: unknown) {
    super(`Cannot append audit records to ${file} (${pending} pending)`, cause === undefined ? undefined : { cause })
    this.file = file
    this.pending = pending
  }
}
