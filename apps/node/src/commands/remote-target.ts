import { chmod, mkdir, readFile, stat, unlink } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { createQflowClient, normalizeApiUrl, type QflowClient } from '../client/client.js'
import { QflowApiError } from '../client/errors.js'
import { ExitCode, type ExitCodeValue } from '../constants.js'
import type { CliIo } from '../io.js'
import { writeFileAtomic } from '../write.js'
import {
  API_ENV,
  CONFIG_DIR_MODE,
  CONFIG_DIR_NAME,
  CONFIG_HOME_ENV,
  CREDENTIALS_FILE_MODE,
  CREDENTIALS_FILE_NAME,
  CREDENTIALS_FORMAT,
  TOKEN_ENV
} from './remote-constants.js'

/** Thrown when a command needs a node and none is named: no `--api`, no `QFLOW_API`, no saved login. */
export class NodeNotConfiguredError extends Error {
  static override readonly name = 'NodeNotConfiguredError'
  override readonly name = 'NodeNotConfiguredError'

  constructor(message = `No node to talk to: pass --api <url>, set ${API_ENV}, or run "qflow login --api <url> --token <token>"`) {
    super(message)
  }
}

/** Thrown when a node is named but there is no token for it: no `QFLOW_TOKEN` and no saved login for that URL. */
export class MissingTokenError extends Error {
  static override readonly name = 'MissingTokenError'
  override readonly name = 'MissingTokenError'
  /** The node's URL. */
  readonly api: string

  constructor(api: string, message = `No token for ${api}: run "qflow login --api ${api} --token <token>", or set ${TOKEN_ENV}`) {
    super(message)
    this.api = api
  }
}

/** Thrown when the credentials file cannot be read, written or removed, or does not hold a login. */
export class CredentialsFileError extends Error {
  static override readonly name = 'CredentialsFileError'
  override readonly name = 'CredentialsFileError'
  /** The credentials file's path. */
  readonly path: string

  constructor(path: string, message = `Cannot use the credentials file ${path}`, options?: ErrorOptions) {
    super(message, options)
    this.path = path
  }
}

/** What `qflow login` saves. */
export interface SavedLogin {
  /** Format version. */
  version: number
  /** The node's base URL. */
  api: string
  /** The bearer token. */
  token: string
  /** The identity the token speaks for, when it could be read from the token. */
  subject?: string
  /** When the token expires, ISO 8601, when it could be read from the token. */
  expiresAt?: string
  /** When the login was saved, ISO 8601. */
  savedAt: string
}

/** The node a command talks to, and where that came from. */
export interface RemoteTarget {
  /** The node's base URL. */
  api: string
  /** The bearer token, when there is one. */
  token: string | undefined
  /** Where the URL came from. */
  apiFrom: 'flag' | 'env' | 'login'
  /** Where the token came from. */
  tokenFrom: 'env' | 'login' | undefined
}

/** The options of a command that may talk to a node. */
export interface RemoteCommandOptions {
  /** `--api <url>`. */
  api?: string
  /** `--data-dir <dir>` of a command that also works on a local data directory. */
  dataDir?: string
}

/** `$XDG_CONFIG_HOME/qflow/credentials.json` (else `~/.config/qflow/credentials.json`). */
export function credentialsPath(io: CliIo): string {
  const configHome = io.env[CONFIG_HOME_ENV]
  const base = configHome !== undefined && configHome.trim() !== '' ? resolve(io.cwd, configHome) : join(io.env.HOME ?? homedir(), '.config')
  return join(base, CONFIG_DIR_NAME, CREDENTIALS_FILE_NAME)
}

/**
 * Reads the saved login; `undefined` when there is none.
 *
 * @throws {@link CredentialsFileError} when the file is unreadable or does not hold a login.
 */
export async function readCredentials(io: CliIo): Promise<SavedLogin | undefined> {
  const path = credentialsPath(io)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined
    throw new CredentialsFileError(path, `Cannot read the credentials file ${path}: ${(err as Error).message}`, { cause: err })
  }
  let value: Partial<SavedLogin>
  try {
    value = JSON.parse(text) as Partial<SavedLogin>
  } catch (err) {
    throw new CredentialsFileError(path, `The credentials file ${path} is not JSON; run "qflow logout" and log in again`, { cause: err })
  }
  if (value === null || typeof value !== 'object' || typeof value.api !== 'string' || typeof value.token !== 'string') {
    throw new CredentialsFileError(path, `The credentials file ${path} holds no login (api and token); run "qflow logout" and log in again`)
  }
  return value as SavedLogin
}

/** Whether the credentials file may be read by others than its owner (group or world bits set). */
export async function credentialsExposed(io: CliIo): Promise<boolean> {
  try {
    return ((await stat(credentialsPath(io))).mode & 0o077) !== 0
  } catch {
    return false
  }
}

/**
 * Saves a login to the credentials file, atomically, mode 0600 (its directory 0700).
 *
 * @throws {@link CredentialsFileError} when it cannot be written.
 */
export async function writeCredentials(io: CliIo, login: Omit<SavedLogin, 'version' | 'savedAt'>): Promise<{ path: string; login: SavedLogin }> {
  const path = credentialsPath(io)
  const saved: SavedLogin = { version: CREDENTIALS_FORMAT, ...login, savedAt: new Date().toISOString() }
  const dir = resolve(path, '..')
  try {
    const created = await mkdir(dir, { recursive: true, mode: CONFIG_DIR_MODE })
    if (created !== undefined) await chmod(dir, CONFIG_DIR_MODE)
    await writeFileAtomic(path, `${JSON.stringify(saved, null, 2)}\n`, { mode: CREDENTIALS_FILE_MODE })
  } catch (err) {
    throw new CredentialsFileError(path, `Cannot write the credentials file ${path}: ${(err as Error).message}`, { cause: err })
  }
  return { path, login: saved }
}

/**
 * Removes the saved login; resolves with what it held, or `undefined` when there was none.
 *
 * @throws {@link CredentialsFileError} when it cannot be removed.
 */
export async function removeCredentials(io: CliIo): Promise<SavedLogin | undefined> {
  const path = credentialsPath(io)
  let saved: SavedLogin | undefined
  try {
    saved = await readCredentials(io)
  } catch (err) {
    if (!(err instanceof CredentialsFileError)) throw err
  }
  try {
    await unlink(path)
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined
    throw new CredentialsFileError(path, `Cannot remove the credentials file ${path}: ${(err as Error).message}`, { cause: err })
  }
  return saved ?? { version: CREDENTIALS_FORMAT, api: '(unreadable)', token: '', savedAt: '' }
}

const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value.trim() === '' ? undefined : value.trim())

/**
 * The node a command talks to: `--api` > an explicit `--data-dir` (local, `undefined`) >
 * `QFLOW_API` > the saved login; `undefined` when none names one (the command works locally, or
 * fails with {@link NodeNotConfiguredError}). The token: `QFLOW_TOKEN` > the saved login's, when
 * the login is for the same URL.
 *
 * @throws {@link InvalidApiUrlError} for a URL that is not http(s); {@link CredentialsFileError}.
 */
export async function resolveTarget(options: RemoteCommandOptions, io: CliIo): Promise<RemoteTarget | undefined> {
  const flag = nonEmpty(options.api)
  const env = nonEmpty(io.env[API_ENV])
  let apiFrom: RemoteTarget['apiFrom']
  let api: string
  let login: SavedLogin | undefined
  if (flag !== undefined) {
    apiFrom = 'flag'
    api = normalizeApiUrl(flag)
  } else if (options.dataDir !== undefined) {
    return undefined
  } else if (env !== undefined) {
    apiFrom = 'env'
    api = normalizeApiUrl(env)
  } else {
    login = await readCredentials(io)
    if (login === undefined) return undefined
    apiFrom = 'login'
    api = normalizeApiUrl(login.api)
  }
  const envToken = nonEmpty(io.env[TOKEN_ENV])
  if (envToken !== undefined) return { api, token: envToken, apiFrom, tokenFrom: 'env' }
  login ??= await readCredentials(io)
  if (login !== undefined && normalizeApiUrl(login.api) === api) {
    if (await credentialsExposed(io)) io.stderr(`qflow: warning: ${credentialsPath(io)} is readable by others; chmod 600 it\n`)
    return { api, token: login.token, apiFrom, tokenFrom: 'login' }
  }
  return { api, token: undefined, apiFrom, tokenFrom: undefined }
}

/**
 * The client of the node a command talks to.
 *
 * @throws {@link NodeNotConfiguredError} when no node is named; {@link MissingTokenError} when
 * there is no token for it.
 */
export async function requireClient(options: RemoteCommandOptions, io: CliIo): Promise<QflowClient> {
  const target = await resolveTarget({ ...(options.api === undefined ? {} : { api: options.api }) }, io)
  if (target === undefined) throw new NodeNotConfiguredError()
  return clientFor(target)
}

/**
 * The client of a resolved target.
 *
 * @throws {@link MissingTokenError} when the target has no token.
 */
export function clientFor(target: RemoteTarget): QflowClient {
  if (target.token === undefined) throw new MissingTokenError(target.api)
  return createQflowClient({ api: target.api, token: target.token })
}

/** Adds `--api <url>` to a command. */
export function addApiOption(command: Command): Command {
  return command.option('--api <url>', `the node to talk to, e.g. http://127.0.0.1:7070 (default: $${API_ENV}, else the saved login)`)
}

/** Errors of talking to a node, reported without a stack trace. */
const REMOTE_ERRORS: ReadonlySet<string> = new Set([
  'NodeNotConfiguredError',
  'MissingTokenError',
  'CredentialsFileError',
  'InvalidApiUrlError',
  'NodeUnreachableError',
  'UnexpectedResponseError',
  'EventStreamError'
])

/** The exit code for an error of talking to a node. */
export function remoteExitCode(err: unknown): ExitCodeValue {
  if (err instanceof QflowApiError) {
    if (err.status === 401) return ExitCode.unauthenticated
    if (err.status === 403) return ExitCode.forbidden
    if (err.status === 404) return ExitCode.notFound
    return ExitCode.invalid
  }
  const name = (err as { name?: unknown } | null)?.name
  if (name === 'NodeNotConfiguredError' || name === 'MissingTokenError') return ExitCode.unauthenticated
  if (name === 'NodeUnreachableError' || name === 'UnexpectedResponseError') return ExitCode.unreachable
  return ExitCode.invalid
}

/**
 * How the command line reports an error of talking to a node: one message, the structured
 * fields for `--json` and the exit code; `undefined` for any other error.
 */
export function remoteErrorReport(err: unknown): { message: string; details: Record<string, unknown>; exitCode: ExitCodeValue } | undefined {
  if (err instanceof QflowApiError) {
    const hint =
      err.status === 401 ? ' (check the token, or log in again: qflow login --api <url> --token <token>)' : err.requestId === undefined ? '' : ` (request ${err.requestId})`
    return {
      message: `${err.message} [${err.code}, HTTP ${err.status}]${hint}`,
      details: {
        name: err.name,
        status: err.status,
        code: err.code,
        ...(err.details === undefined ? {} : { details: err.details }),
        ...(err.requestId === undefined ? {} : { requestId: err.requestId }),
        ...(err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs })
      },
      exitCode: remoteExitCode(err)
    }
  }
  if (!(err instanceof Error) || !REMOTE_ERRORS.has(err.name)) return undefined
  const details: Record<string, unknown> = { name: err.name }
  for (const field of ['api', 'url', 'path', 'reason', 'status', 'code', 'closeCode', 'dropped'] as const) {
    const value = (err as unknown as Record<string, unknown>)[field]
    if (value !== undefined) details[field] = value
  }
  return { message: err.message, details, exitCode: remoteExitCode(err) }
}

/** Help text about the node a command talks to. */
export const REMOTE_ENV_HELP = `
The node: --api <url>, else $${API_ENV}, else the login "qflow login" saved (in
$${CONFIG_HOME_ENV}/${CONFIG_DIR_NAME}/${CREDENTIALS_FILE_NAME}, else ~/.config/${CONFIG_DIR_NAME}/${CREDENTIALS_FILE_NAME}).
The token: $${TOKEN_ENV}, else the saved login's (when it is for the same node).`

/** Help text of the exit codes of a command that talks to a node. */
export const REMOTE_EXIT_HELP = `
Exit codes: 0 ok, 1 failed (the node rejected the request, or the execution failed), 2 usage
error, 3 not logged in or the token was refused (401), 4 forbidden (403), 5 not found (404),
6 the node cannot be reached.`
