import type { ConfigSource } from './config.js'

/**
 * Thrown when a configuration value cannot be used: an unknown key in the file, a port that is
 * not a port, a level that is no level. `key` names the configuration key, `source` and `origin`
 * where the bad value came from (`file` and `config.yaml:3`, `env` and `QFLOW_PORT`, `flag` and
 * `--port`).
 */
export class DaemonConfigError extends Error {
  static override readonly name = 'DaemonConfigError'
  override readonly name = 'DaemonConfigError'
  /** The configuration key at fault (as written in the file for an unknown key). */
  readonly key: string
  /** Which layer the value came from. */
  readonly source: ConfigSource
  /** Where exactly: `<file>:<line>`, the environment variable, or the flag. */
  readonly origin: string
  /** What is wrong with the value. */
  readonly reason: string

  constructor(key: string, source: ConfigSource, origin: string, reason: string) {
    super(`Invalid configuration: ${key} (${origin}): ${reason}`)
    this.key = key
    this.source = source
    this.origin = origin
    this.reason = reason
  }
}

/**
 * Thrown when the configuration file cannot be used as a whole: it is missing (when named
 * explicitly), unreadable, not YAML, or not a mapping of keys to values.
 */
export class ConfigFileError extends Error {
  static override readonly name = 'ConfigFileError'
  override readonly name = 'ConfigFileError'
  /** The file. */
  readonly path: string
  /** What is wrong with it. */
  readonly reason: string

  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(`Cannot use the configuration file ${path}: ${reason}`, options)
    this.path = path
    this.reason = reason
  }
}

/**
 * Thrown when the API cannot listen where the configuration says: the port is taken
 * (`EADDRINUSE`), not permitted (`EACCES`), or the host is not an address of this machine
 * (`EADDRNOTAVAIL`, `ENOTFOUND`).
 */
export class ListenAddressError extends Error {
  static override readonly name = 'ListenAddressError'
  override readonly name = 'ListenAddressError'
  /** The host asked for. */
  readonly host: string
  /** The port asked for. */
  readonly port: number
  /** The system's error code. */
  readonly code: string

  constructor(host: string, port: number, code: string, options?: ErrorOptions) {
    const why =
      code === 'EADDRINUSE'
        ? 'the port is in use (another node? choose --port, or 0 for any free port)'
        : code === 'EACCES'
          ? 'not permitted (ports below 1024 need privileges)'
          : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND'
            ? 'the host is not an address of this machine'
            : code
    super(`Cannot listen on ${host}:${port}: ${why}`, options)
    this.host = host
    this.port = port
    this.code = code
  }
}
