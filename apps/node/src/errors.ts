import type { FlowFileReport } from './flow-file.js'

/**
 * Thrown when a flow file or directory named on the command line cannot be read (missing,
 * unreadable, or a directory that holds no flow file).
 */
export class FlowFileError extends Error {
  static override readonly name = 'FlowFileError'
  override readonly name = 'FlowFileError'
  /** The path as given on the command line. */
  readonly path: string

  constructor(path: string, message = `Cannot read ${path}`, options?: ErrorOptions) {
    super(message, options)
    this.path = path
  }
}

/**
 * Thrown when a key file cannot be read, or does not hold an ed25519 private key in PKCS#8 PEM
 * (what `openssl genpkey -algorithm ed25519` and `qflow key generate` write).
 */
export class KeyFileError extends Error {
  static override readonly name = 'KeyFileError'
  override readonly name = 'KeyFileError'
  /** The key file's path as given on the command line. */
  readonly path: string

  constructor(path: string, message = `${path} is not an ed25519 private key in PKCS#8 PEM`, options?: ErrorOptions) {
    super(message, options)
    this.path = path
  }
}

/**
 * Thrown when an output file cannot be written, or already exists and the command refuses to
 * overwrite it (a private key is never overwritten without `--force`).
 */
export class OutputFileError extends Error {
  static override readonly name = 'OutputFileError'
  override readonly name = 'OutputFileError'
  /** The output path as given on the command line. */
  readonly path: string

  constructor(path: string, message = `Cannot write ${path}`, options?: ErrorOptions) {
    super(message, options)
    this.path = path
  }
}

/**
 * Thrown when a flow file named on the command line does not parse or is not a valid flow. Its
 * `report` lists every problem with the line and column it sits at.
 */
export class InvalidFlowFileError extends Error {
  static override readonly name = 'InvalidFlowFileError'
  override readonly name = 'InvalidFlowFileError'
  /** The file's path as given on the command line. */
  readonly path: string
  /** What checking the file found. */
  readonly report: FlowFileReport

  constructor(report: FlowFileReport, message?: string) {
    const count = report.errors.length
    super(message ?? `${report.file} is not a valid flow (${count} error${count === 1 ? '' : 's'})`)
    this.path = report.file
    this.report = report
  }
}

/** Thrown when `--input` (inline, `@file` or `@-`) cannot be read or is not JSON. */
export class InputError extends Error {
  static override readonly name = 'InputError'
  override readonly name = 'InputError'
  /** Where the input came from: `--input`, a file path, or standard input. */
  readonly path: string

  constructor(path: string, message = `The input in ${path} is not JSON`) {
    super(message)
    this.path = path
  }
}
