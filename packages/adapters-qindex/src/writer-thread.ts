import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { IndexStorageError } from './errors.js'
import type { StoredRecord } from './validate.js'

/** What the writer thread opens. */
export interface WriterInit {
  readonly path: string
  readonly cacheSizeMB: number
  readonly synchronous: 'normal' | 'off'
}

/** A message to the writer thread. */
export type WriterRequest =
  | { readonly id: number; readonly op: 'put'; readonly records: readonly StoredRecord[]; readonly recordedAt: number }
  | { readonly id: number; readonly op: 'close' }

/** An error as it crosses threads (SQLite's `code` kept, so the index can classify it). */
export interface WriterFailure {
  name: string
  message: string
  code?: string
}

/** A message from the writer thread. */
export type WriterResponse =
  | { readonly ready: true }
  | { readonly ready: false; readonly failure: WriterFailure }
  | { readonly id: number; readonly ok: true }
  | { readonly id: number; readonly ok: false; readonly failures: readonly (WriterFailure | null)[] }

/**
 * The built writer thread. From `src/` (tests) and from `dist/` alike it is `dist/index-writer.js`
 * of this package; when it is not there (a test run before any build), writes stay on the calling thread.
 */
const WRITER_FILE = new URL('../dist/index-writer.js', import.meta.url)

function revive(failure: WriterFailure): Error {
  const err = new Error(failure.message) as Error & { code?: string }
  err.name = failure.name
  if (failure.code !== undefined) err.code = failure.code
  return err
}

interface Inflight {
  readonly resolve: (errors: (Error | undefined)[] | undefined) => void
  readonly reject: (err: unknown) => void
}

/**
 * A worker thread with its own connection to a (WAL) index database that writes group-committed
 * puts. The caller keeps one writer at a time: it writes on its own connection only while no put is
 * in flight here.
 */
export class IndexWriterThread {
  private readonly worker: Worker
  private readonly inflight = new Map<number, Inflight>()
  private nextId = 0
  private exited: Error | undefined

  private constructor(worker: Worker) {
    this.worker = worker
    worker.on('message', (message: WriterResponse) => {
      if ('ready' in message) return
      const pending = this.inflight.get(message.id)
      if (pending === undefined) return
      this.inflight.delete(message.id)
      pending.resolve(message.ok ? undefined : message.failures.map((f) => (f === null ? undefined : revive(f))))
    })
    const stopped = (cause: unknown) => {
      // Writes in flight may or may not have been committed.
      this.exited ??= new IndexStorageError('The index writer thread stopped', 'SQLITE_IOERR', cause)
      for (const pending of this.inflight.values()) pending.reject(this.exited)
      this.inflight.clear()
    }
    worker.on('error', stopped)
    worker.on('exit', (code) => stopped(code))
  }

  /**
   * Starts a writer thread on `init.path` and waits until its connection is open; `undefined`
   * when the built writer is not there or its connection did not open.
   */
  static async open(init: WriterInit): Promise<IndexWriterThread | undefined> {
    if (!existsSync(fileURLToPath(WRITER_FILE))) return undefined
    let worker: Worker
    try {
      worker = new Worker(WRITER_FILE, { workerData: init })
    } catch {
      return undefined
    }
    const ready = await new Promise<boolean>((resolve) => {
      worker.once('message', (message: WriterResponse) => resolve('ready' in message && message.ready))
      worker.once('error', () => resolve(false))
      worker.once('exit', () => resolve(false))
    })
    if (!ready) {
      await worker.terminate()
      return undefined
    }
    return new IndexWriterThread(worker)
  }

  /** Whether the thread is still there (it has not exited or failed). */
  get alive(): boolean {
    return this.exited === undefined
  }

  /** Writes the records in one transaction (each alone when one spoils it): `undefined` when all were written, else each one's error. */
  put(records: readonly StoredRecord[], recordedAt: number): Promise<(Error | undefined)[] | undefined> {
    return this.request({ id: 0, op: 'put', records, recordedAt })
  }

  /** Closes the thread's connection and ends the thread. */
  async close(): Promise<void> {
    if (this.exited === undefined) {
      await this.request({ id: 0, op: 'close' }).catch(() => undefined)
    }
    await this.worker.terminate()
  }

  private request(message: WriterRequest): Promise<(Error | undefined)[] | undefined> {
    if (this.exited !== undefined) return Promise.reject(this.exited)
    const id = ++this.nextId
    return new Promise((resolve, reject) => {
      this.inflight.set(id, { resolve, reject })
      this.worker.postMessage({ ...message, id })
    })
  }
}
