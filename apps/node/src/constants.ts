/** Process exit codes of the `qflow` command line. */
export const ExitCode = {
  /** The command did what it was asked (the flow is valid, the signature checks out). */
  ok: 0,
  /** The input was bad: an invalid flow, a bad signature, an unreadable file or key. */
  invalid: 1,
  /** The command line itself was wrong: unknown command or option, missing argument. */
  usage: 2,
  /** No node login: no token for the node, or the node refused the token (HTTP 401). */
  unauthenticated: 3,
  /** The node refused the action to this identity (HTTP 403). */
  forbidden: 4,
  /** The node has no such flow, version, execution, secret or grant (HTTP 404). */
  notFound: 5,
  /** The node could not be reached, or what answered is not a Qflow node. */
  unreachable: 6
} as const

/** One of the {@link ExitCode} values. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/** File name endings `qflow flow validate` picks up when it walks a directory. */
export const FLOW_FILE_EXTENSIONS: readonly string[] = ['.json', '.yaml', '.yml']

/** Directory names skipped when walking a directory for flow files. */
export const SKIPPED_DIRECTORIES: readonly string[] = ['node_modules']

/** File mode of a private key written by `qflow key generate` (owner read/write only). */
export const KEY_FILE_MODE = 0o600

/** Environment variable that, set to `1`, prints stack traces as `--verbose` does. */
export const DEBUG_ENV = 'QFLOW_DEBUG'

/** Path argument that means standard input. */
export const STDIN_PATH = '-'
