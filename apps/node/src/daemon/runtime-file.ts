import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../write.js'
import { DAEMON_FILES } from './constants.js'

/** What a running daemon records in `<dataDir>/daemon.json`, so local commands find its API. */
export interface DaemonRuntime {
  /** The daemon's process id. */
  readonly pid: number
  /** Where its API answers. */
  readonly url: string
  /** When it started listening, ISO 8601. */
  readonly startedAt: string
  /** The `@qflow/node` version it runs. */
  readonly version: string
}

/** Writes `daemon.json` (atomically, replacing what a killed daemon left). */
export async function writeDaemonRuntime(dataDir: string, runtime: DaemonRuntime): Promise<void> {
  await writeFileAtomic(join(dataDir, DAEMON_FILES.runtime), `${JSON.stringify(runtime)}\n`)
}

/** Reads `daemon.json`, or undefined when there is none (or it is not a daemon record). */
export async function readDaemonRuntime(dataDir: string): Promise<DaemonRuntime | undefined> {
  let text: string
  try {
    text = await readFile(join(dataDir, DAEMON_FILES.runtime), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    const value = JSON.parse(text) as Partial<DaemonRuntime>
    if (typeof value.url !== 'string' || typeof value.pid !== 'number') return undefined
    return value as DaemonRuntime
  } catch {
    return undefined
  }
}

/** Removes `daemon.json` if it is this process's. */
export async function removeDaemonRuntime(dataDir: string, pid: number = process.pid): Promise<void> {
  const current = await readDaemonRuntime(dataDir)
  if (current?.pid === pid) await rm(join(dataDir, DAEMON_FILES.runtime), { force: true })
}
