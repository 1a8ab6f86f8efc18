/** Why an execution's history failed verification. */
export type LogIntegrityReason =
  | 'missing-block'
  | 'bad-cid'
  | 'bad-link'
  | 'bad-signature'
  | 'decrypt-failed'
  | 'seq-gap'
  | 'malformed-entry'

/**
 * Thrown (or reported by `verifyExecution`) when an execution's history is broken or tampered
 * with: a block is missing, its bytes do not hash to its CID, a link or sequence number does not
 * follow, a signature does not verify, or the payload does not decrypt under its binding.
 */
export class LogIntegrityError extends Error {
  static override readonly name = 'LogIntegrityError'
  override readonly name = 'LogIntegrityError'
  /** The execution whose history is broken. */
  readonly executionId: string
  /** The sequence number of the broken entry. */
  readonly seq: number
  /** What is wrong with it. */
  readonly reason: LogIntegrityReason
  /** The CID the entry was expected under, when known. */
  readonly cid: string | undefined

  constructor(init: { executionId: string; seq: number; reason: LogIntegrityReason; cid?: string | undefined; detail?: string | undefined; cause?: unknown }) {
    super(
      `Execution ${init.executionId}: entry ${init.seq} failed verification: ${init.reason}${init.detail === undefined ? '' : ` (${init.detail})`}`,
      init.cause === undefined ? undefined : { cause: init.cause }
    )
    this.executionId = init.executionId
    this.seq = init.seq
    this.reason = init.reason
    this.cid = init.cid
  }
}

/** Thrown when an append or registry call is given something that cannot be stored; nothing is written. */
export class InvalidInputError extends Error {
  static override readonly name = 'InvalidInputError'
  override readonly name = 'InvalidInputError'
  /** JSON pointer into the input to the offending field. */
  readonly pointer: string

  constructor(message = 'Invalid input', pointer = '') {
    super(pointer === '' ? message : `${message} (at ${pointer})`)
    this.pointer = pointer
  }
}

/** Thrown when an execution is read or appended to that the store does not hold. */
export class ExecutionNotFoundError extends Error {
  static override readonly name = 'ExecutionNotFoundError'
  override readonly name = 'ExecutionNotFoundError'
  /** The execution. */
  readonly executionId: string

  constructor(executionId: string) {
    super(`No execution ${executionId} in this store`)
    this.executionId = executionId
  }
}

/** Thrown when an entry that opens a log (`started`, or one appended with `opens`) is appended to an execution that already has a history. */
export class ExecutionExistsError extends Error {
  static override readonly name = 'ExecutionExistsError'
  override readonly name = 'ExecutionExistsError'
  /** The execution. */
  readonly executionId: string

  constructor(executionId: string) {
    super(`Execution ${executionId} already started`)
    this.executionId = executionId
  }
}

/** Thrown when an entry is appended to an execution that already completed, failed or was aborted. */
export class ExecutionFinishedError extends Error {
  static override readonly name = 'ExecutionFinishedError'
  override readonly name = 'ExecutionFinishedError'
  /** The execution. */
  readonly executionId: string
  /** Its final status. */
  readonly status: string

  constructor(executionId: string, status: string) {
    super(`Execution ${executionId} is ${status}: its log is closed`)
    this.executionId = executionId
    this.status = status
  }
}

/** Thrown when a flow (or one of its versions) is asked for that the registry does not hold. */
export class FlowNotFoundError extends Error {
  static override readonly name = 'FlowNotFoundError'
  override readonly name = 'FlowNotFoundError'
  /** The flow id or flow hash asked for. */
  readonly ref: string
  /** The version asked for, if one was. */
  readonly version: number | undefined

  constructor(ref: string, version?: number) {
    super(version === undefined ? `No flow ${ref} in the registry` : `Flow ${ref} has no version ${version}`)
    this.ref = ref
    this.version = version
  }
}

/** Thrown when a stored record (a head, a registry record, the journal) cannot be read back as written. */
export class CorruptRecordError extends Error {
  static override readonly name = 'CorruptRecordError'
  override readonly name = 'CorruptRecordError'
  /** The record's key or path. */
  readonly key: string

  constructor(key: string, detail: string, cause?: unknown) {
    super(`Stored record ${key} is corrupt: ${detail}`, cause === undefined ? undefined : { cause })
    this.key = key
  }
}

/**
 * Thrown by every write after a commit to disk failed: the store no longer knows what is durable
 * and refuses further writes until it is reopened (which replays the journal).
 */
export class StoreFailedError extends Error {
  static override readonly name = 'StoreFailedError'
  override readonly name = 'StoreFailedError'

  constructor(cause?: unknown) {
    super('A commit to disk failed; reopen the store to recover', cause === undefined ? undefined : { cause })
  }
}

/** Thrown when the store is used before `start()` or after `stop()`. */
export class StoreNotStartedError extends Error {
  static override readonly name = 'StoreNotStartedError'
  override readonly name = 'StoreNotStartedError'

  constructor() {
    super('The state store is not started')
  }
}

/** Thrown at construction when a required component is missing. */
export class MissingComponentError extends Error {
  static override readonly name = 'MissingComponentError'
  override readonly name = 'MissingComponentError'
  /** The component's name. */
  readonly component: string

  constructor(component: string, detail = '') {
    super(`The state store needs the ${component} component${detail === '' ? '' : `: ${detail}`}`)
    this.component = component
  }
}
