/**
 * Thrown when another live process holds the node's data directory (its `LOCK` file names a
 * running pid). A lock left by a process that died is taken over, never reported.
 */
export class DataDirLockedError extends Error {
  static override readonly name = 'DataDirLockedError'
  override readonly name = 'DataDirLockedError'
  /** The data directory. */
  readonly dataDir: string
  /** The pid holding it. */
  readonly pid: number | undefined

  constructor(dataDir: string, pid?: number, message = `The data directory ${dataDir} is in use by another qflow process${pid === undefined ? '' : ` (pid ${pid})`}`) {
    super(message)
    this.dataDir = dataDir
    this.pid = pid
  }
}

/**
 * Thrown when the data directory holds something the node cannot use: a keystore that does not
 * open, a node secret of the wrong size, a keystore without the node or admin identity, a path
 * that is not a directory. Nothing is rewritten: the data stays as it was for inspection.
 */
export class DataDirCorruptError extends Error {
  static override readonly name = 'DataDirCorruptError'
  override readonly name = 'DataDirCorruptError'
  /** The data directory. */
  readonly dataDir: string
  /** The file at fault. */
  readonly path: string
  /** What is wrong with it. */
  readonly reason: string

  constructor(dataDir: string, path: string, reason: string, options?: ErrorOptions) {
    super(`The data directory ${dataDir} is corrupt: ${path}: ${reason}`, options)
    this.dataDir = dataDir
    this.path = path
    this.reason = reason
  }
}

/**
 * Thrown when the keystore is sealed with a passphrase and none (or a wrong one) is given
 * (`QFLOW_PASSPHRASE`).
 */
export class NodePassphraseError extends Error {
  static override readonly name = 'NodePassphraseError'
  override readonly name = 'NodePassphraseError'
  /** The keystore file. */
  readonly path: string

  constructor(path: string, message = `The keystore ${path} is sealed with a passphrase: set QFLOW_PASSPHRASE to the right one`, options?: ErrorOptions) {
    super(message, options)
    this.path = path
  }
}

/** Thrown when a node's parts are used before `start()` or after `stop()`. */
export class NodeNotStartedError extends Error {
  static override readonly name = 'NodeNotStartedError'
  override readonly name = 'NodeNotStartedError'

  constructor(message = 'The qflow node is not started') {
    super(message)
  }
}

/** Thrown when a node option has a value the node cannot use (the option is named in `option`). */
export class NodeConfigError extends Error {
  static override readonly name = 'NodeConfigError'
  override readonly name = 'NodeConfigError'
  /** The option at fault. */
  readonly option: string

  constructor(option: string, message: string) {
    super(message)
    this.option = option
  }
}
