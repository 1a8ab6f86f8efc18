import { constants } from 'node:fs'
import { mkdir, open, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { GRANT_LOG_FILE, LOCK_FILE } from './constants.js'
import { GrantLogCorruptError, GrantLogWriteError, QonsentStoreLockedError } from './errors.js'
import type { ConsentGrant } from './grant.js'

/** One line of the grant log. */
export type GrantLogEvent =
  | { readonly v: 1; readonly op: 'grant'; readonly at: number; readonly grant: ConsentGrant }
  | { readonly v: 1; readonly op: 'revoke'; readonly at: number; readonly id: string; readonly by: string; readonly reason?: string }
  | { readonly v: 1; readonly op: 'tombstone'; readonly at: number; readonly id: string }

/** What loading the log found. */
export interface GrantLogLoadReport {
  /** Lines read and applied. */
  readonly applied: number
  /** Corrupt lines skipped (only with `corruptLines: 'skip'`), 1-based. */
  readonly skippedLines: readonly number[]
  /** Where an incomplete last line (a write cut short by a crash) was moved, if there was one. */
  readonly tornTailSavedTo: string | undefined
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function parseEvent(text: string): GrantLogEvent {
  const value: unknown = JSON.parse(text)
  if (!isRecord(value) || value.v !== 1) throw new Error('Not a version 1 grant log event')
  if (typeof value.at !== 'number' || !Number.isFinite(value.at)) throw new Error('The event has no time')
  switch (value.op) {
    case 'grant':
      if (!isRecord(value.grant)) throw new Error('A grant event without a grant')
      return value as unknown as GrantLogEvent
    case 'revoke':
      if (typeof value.id !== 'string' || typeof value.by !== 'string') throw new Error('A revoke event needs id and by')
      return value as unknown as GrantLogEvent
    case 'tombstone':
      if (typeof value.id !== 'string') throw new Error('A tombstone needs an id')
      return value as unknown as GrantLogEvent
    default:
      throw new Error(`Unknown event ${JSON.stringify(value.op)}`)
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * The grant log: an append-only JSONL file of grant, revoke and tombstone events in a data
 * directory, replayed on load; a `LOCK` file keeps a second process out; `compact()` rewrites it
 * atomically (temporary file, fsync, rename).
 */
export class GrantLog {
  readonly file: string
  private readonly lockFile: string
  private handle: FileHandle | undefined
  private queue: Promise<unknown> = Promise.resolve()
  private skipped = false

  constructor(
    readonly dataDir: string,
    private readonly fsync: boolean
  ) {
    this.file = join(dataDir, GRANT_LOG_FILE)
    this.lockFile = join(dataDir, LOCK_FILE)
  }

  /** Takes the data directory's lock. */
  async lock(): Promise<void> {
    await mkdir(this.dataDir, { recursive: true })
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(this.lockFile, String(process.pid), { flag: 'wx' })
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const pid = Number.parseInt(await readFile(this.lockFile, 'utf8').catch(() => ''), 10)
      if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) throw new QonsentStoreLockedError(this.dataDir, pid)
      // The holder is gone: the lock is stale.
      await rm(this.lockFile, { force: true })
    }
    throw new QonsentStoreLockedError(this.dataDir)
  }

  /**
   * Replays the log through `apply`, line by line (1-based line numbers).
   *
   * @throws {@link GrantLogCorruptError} naming the first line that cannot be read or applied
   * (unless `skipCorrupt`); the file is left as it was.
   */
  async load(apply: (event: GrantLogEvent, line: number) => void, skipCorrupt: boolean): Promise<GrantLogLoadReport> {
    let bytes: Buffer
    try {
      bytes = await readFile(this.file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      bytes = Buffer.alloc(0)
    }
    const end = bytes.lastIndexOf(0x0a) + 1
    const lines = bytes.subarray(0, end).toString('utf8').split('\n')
    lines.pop()
    const tail = bytes.subarray(end)
    let applied = 0
    const skippedLines: number[] = []
    const step = (line: string, number: number): void => {
      let event: GrantLogEvent
      try {
        event = parseEvent(line)
      } catch (err) {
        throw new GrantLogCorruptError(this.file, number, `Not a grant log event: ${(err as Error).message}`, err)
      }
      try {
        apply(event, number)
      } catch (err) {
        throw new GrantLogCorruptError(this.file, number, `${event.op} event cannot be applied: ${(err as Error).message}`, err)
      }
      applied++
    }
    const stepOrSkip = (line: string, number: number): void => {
      try {
        step(line, number)
      } catch (err) {
        if (!skipCorrupt) throw err
        skippedLines.push(number)
      }
    }
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string
      if (line.trim() !== '') stepOrSkip(line, i + 1)
    }
    let tornTailSavedTo: string | undefined
    const last = tail.toString('utf8')
    if (last.trim() !== '') {
      // The last line has no newline: either a complete event whose newline was lost, or a write
      // a crash cut short (never acknowledged). The first is applied; the second is moved aside.
      let complete = true
      try {
        parseEvent(last)
      } catch {
        complete = false
      }
      if (complete) {
        stepOrSkip(last, lines.length + 1)
        await this.appendRaw('\n')
      } else {
        tornTailSavedTo = `${this.file}.torn-${Date.now()}`
        await writeFile(tornTailSavedTo, tail)
        await truncate(this.file, end)
      }
    }
    this.skipped = skippedLines.length > 0
    return { applied, skippedLines, tornTailSavedTo }
  }

  /**
   * Appends one event (after every earlier append finished), fsynced when configured.
   *
   * @throws {@link GrantLogWriteError} when the write fails; the event is then not in the log.
   */
  append(event: GrantLogEvent): Promise<void> {
    return this.enqueue(() => this.appendRaw(`${JSON.stringify(event)}\n`))
  }

  /**
   * Replaces the log with `events` atomically: they are written to a temporary file, fsynced and
   * renamed over the log. A log that had corrupt lines skipped is first copied aside.
   */
  compact(events: Iterable<GrantLogEvent>): Promise<void> {
    return this.enqueue(async () => {
      await this.handle?.close()
      this.handle = undefined
      if (this.skipped) {
        await writeFile(`${this.file}.bak-${Date.now()}`, await readFile(this.file))
        this.skipped = false
      }
      const temporary = `${this.file}.tmp`
      const out = await open(temporary, 'w')
      try {
        let text = ''
        for (const event of events) {
          text += `${JSON.stringify(event)}\n`
          if (text.length > 1 << 20) {
            await out.write(text)
            text = ''
          }
        }
        await out.write(text)
        await out.sync()
      } finally {
        await out.close()
      }
      await rename(temporary, this.file)
      await this.syncDirectory()
    })
  }

  /** The log's size in bytes. */
  async size(): Promise<number> {
    try {
      return (await stat(this.file)).size
    } catch {
      return 0
    }
  }

  /** Waits for pending appends, closes the file and releases the lock. */
  async close(): Promise<void> {
    await this.enqueue(async () => {
      await this.handle?.close()
      this.handle = undefined
    })
    await rm(this.lockFile, { force: true })
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task)
    this.queue = run.catch(() => undefined)
    return run
  }

  private async appendRaw(text: string): Promise<void> {
    try {
      this.handle ??= await open(this.file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT)
      await this.handle.write(text)
      if (this.fsync) await this.handle.datasync()
    } catch (err) {
      throw new GrantLogWriteError(this.file, err)
    }
  }

  private async syncDirectory(): Promise<void> {
    if (!this.fsync) return
    try {
      const dir = await open(this.dataDir, 'r')
      try {
        await dir.sync()
      } finally {
        await dir.close()
      }
    } catch {
      // Some platforms cannot fsync a directory; the rename is still atomic.
    }
  }
}
