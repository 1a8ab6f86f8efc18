import { issueToken } from '@qflow/adapters-squid'
import { loadOrCreateSecrets } from '../../src/node/data-dir.js'
import { type LiveQflow, spawnQflow } from '../fixtures/node.js'

/** One JSON log line of the daemon. */
export interface LogLine {
  readonly level: string
  readonly msg: string
  readonly [field: string]: unknown
}

/** A `qflow node start` child process. */
export interface RunningDaemon {
  readonly process: LiveQflow
  /** The bound URL from the `listening` log line. */
  readonly url: string
  /** The JSON log lines written so far (standard output). */
  logs(): LogLine[]
  /** Standard error so far. */
  stderr(): string
  /** Resolves with the first log line (so far or to come) `match` accepts. */
  waitForLog(match: (line: LogLine) => boolean): Promise<LogLine>
  /** Sends `signal` and resolves with the exit code and signal. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function parseLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine)
}

/**
 * Spawns `qflow node start --port 0 …args` and resolves once it is started: its `listening` log
 * line is out and standard error says where the API answers.
 * Rejects with the process's output when it exits before listening.
 */
export async function startDaemon(args: readonly string[], env: Record<string, string> = {}): Promise<RunningDaemon> {
  const live = spawnQflow(['node', 'start', '--port', '0', ...args], env)
  const waitForLog = (match: (line: LogLine) => boolean): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = parseLines(live.stdout()).find(match)
        if (found === undefined) return false
        live.child.stdout?.off('data', onData)
        resolve(found)
        return true
      }
      const onData = (): void => {
        setImmediate(check)
      }
      if (check()) return
      live.child.stdout?.on('data', onData)
      void live.exited.then(() => {
        if (!check()) reject(new Error(`qflow node start exited without the expected log line\nstdout:\n${live.stdout()}\nstderr:\n${live.stderr()}`))
      })
    })
  const listening = await waitForLog((line) => line.msg === 'listening')
  // The start is complete (the admin token printed, if it is) once the URL is announced on stderr.
  await new Promise<void>((resolve, reject) => {
    const announced = (): boolean => live.stderr().includes('the API answers at ')
    if (announced()) return resolve()
    const onData = (): void => {
      if (!announced()) return
      live.child.stderr?.off('data', onData)
      resolve()
    }
    live.child.stderr?.on('data', onData)
    void live.exited.then(() => (announced() ? resolve() : reject(new Error(`qflow node start exited before it was started\nstderr:\n${live.stderr()}`))))
  })
  return {
    process: live,
    url: listening.url as string,
    logs: () => parseLines(live.stdout()),
    stderr: live.stderr,
    waitForLog,
    stop: async (signal = 'SIGTERM') => {
      live.child.kill(signal)
      return live.exited
    }
  }
}

const admins = new Map<string, Awaited<ReturnType<typeof loadOrCreateSecrets>>['admin']>()

/** A fresh admin token for requests to a node on `dataDir` (its admin identity read from the keystore, as the node does). */
export async function adminToken(dataDir: string): Promise<string> {
  let admin = admins.get(dataDir)
  if (admin === undefined) {
    admin = (await loadOrCreateSecrets(dataDir, undefined)).admin
    admins.set(dataDir, admin)
  }
  return issueToken(admin, { audience: 'qflow', ttlMs: 60_000 })
}

/** The parsed JSON answer of an API call. */
export interface ApiAnswer {
  readonly status: number
  readonly body: { success: boolean; data?: unknown; error?: { code: string; message: string; details?: unknown } }
  readonly headers: Headers
}

/** Calls the API with a bearer token; JSON in, JSON out. */
export async function api(url: string, method: string, path: string, token: string | undefined, body?: unknown): Promise<ApiAnswer> {
  const headers: Record<string, string> = {}
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  return { status: response.status, body: (await response.json()) as ApiAnswer['body'], headers: response.headers }
}
