import { text } from 'node:stream/consumers'

/**
 * What the command line reads from and writes to. The process gets {@link processIo}; tests and
 * embedders pass their own to run commands in-process.
 */
export interface CliIo {
  /** Writes text to standard output (the caller adds newlines). */
  stdout(text: string): void
  /** Writes text to standard error (the caller adds newlines). */
  stderr(text: string): void
  /** Reads all of standard input (for the `-` path). */
  readStdin(): Promise<string>
  /** Directory relative paths resolve against. */
  cwd: string
  /** Environment variables (`QFLOW_DEBUG`). */
  env: Readonly<Record<string, string | undefined>>
  /** Whether standard error is a terminal (progress lines are shown only then, unless asked for). */
  stderrIsTTY?: boolean
}

/** The {@link CliIo} of the running process. */
export function processIo(): CliIo {
  return {
    stdout: (chunk) => {
      process.stdout.write(chunk)
    },
    stderr: (chunk) => {
      process.stderr.write(chunk)
    },
    readStdin: () => text(process.stdin),
    cwd: process.cwd(),
    env: process.env,
    stderrIsTTY: process.stderr.isTTY === true
  }
}
