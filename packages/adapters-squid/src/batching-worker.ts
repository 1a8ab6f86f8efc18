import { Worker } from 'node:worker_threads'

interface Pending<Req, Res> {
  readonly request: Req
  resolve(result: Res): void
  reject(err: unknown): void
}

/** What a {@link BatchingWorker} is made with. */
export interface BatchingWorkerInit {
  /**
   * CommonJS source evaluated as the worker. It answers each `{ id, items }` message with one
   * `{ id, out }` message whose `out[i]` is the result of `items[i]`.
   */
  readonly source: string
  /** Data handed to the worker at spawn (`workerData`). Made anew for each spawn. */
  readonly workerData?: () => unknown
  /** Most requests sent in one message. */
  readonly maxBatch: number
  /** The error pending and later requests are rejected with once the worker stops or is closed. */
  readonly closedError: (cause?: unknown) => Error
  /** Which parts of a batch's message to transfer rather than copy. */
  readonly transfer?: (items: readonly unknown[]) => ArrayBuffer[]
  /**
   * Spawn the worker at construction instead of on the first request. Its source must then post
   * `{ ready: true }` once it can take work; {@link BatchingWorker.ready} tells whether it has.
   */
  readonly eager?: boolean
}

/**
 * Sends requests to a worker thread in batches: every request made in one turn of the event
 * loop goes in one message, so the event loop pays one `postMessage` per turn and the worker
 * does the work on another core. A worker that dies fails what it held; the next request spawns
 * a new one. Shared by the off-thread signer and the off-thread signature verifier.
 */
export class BatchingWorker<Req, Res> {
  private worker: Worker | undefined
  private queue: Pending<Req, Res>[] = []
  private readonly inflight = new Map<number, Pending<Req, Res>[]>()
  private next = 0
  private scheduled = false
  private closed = false
  private booted = false

  constructor(private readonly init: BatchingWorkerInit) {
    if (init.eager === true) this.worker = this.spawn()
  }

  /** Whether `close()` was called. */
  get isClosed(): boolean {
    return this.closed
  }

  /** Whether an eagerly spawned worker has said it is ready (always false for a lazy one). */
  get ready(): boolean {
    return this.booted && this.worker !== undefined
  }

  /** Queues a request; resolves with the worker's answer to it. */
  request(request: Req): Promise<Res> {
    if (this.closed) return Promise.reject(this.init.closedError())
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject })
      if (this.queue.length >= this.init.maxBatch) this.flush()
      else if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  private spawn(): Worker {
    const data = this.init.workerData?.()
    const worker = new Worker(this.init.source, { eval: true, ...(data === undefined ? {} : { workerData: data }) })
    worker.unref()
    worker.on('message', ({ id, out, ready }: { id: number; out: Res[]; ready?: boolean }) => {
      if (ready === true) {
        this.booted = true
        return
      }
      const batch = this.inflight.get(id)
      if (batch === undefined) return
      this.inflight.delete(id)
      for (let i = 0; i < batch.length; i++) (batch[i] as Pending<Req, Res>).resolve(out[i] as Res)
    })
    const fail = (err: unknown): void => {
      if (this.worker === worker) {
        this.worker = undefined
        this.booted = false
      }
      const error = this.init.closedError(err)
      for (const batch of this.inflight.values()) for (const p of batch) p.reject(error)
      this.inflight.clear()
    }
    worker.on('error', fail)
    worker.on('exit', (code) => {
      if (code !== 0 || !this.closed) fail(new Error(`exit code ${code}`))
    })
    return worker
  }

  private flush(): void {
    this.scheduled = false
    if (this.queue.length === 0) return
    const batch = this.queue.splice(0, this.init.maxBatch)
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
    this.worker ??= this.spawn()
    const id = this.next++
    this.inflight.set(id, batch)
    const items = batch.map((p) => p.request)
    this.worker.postMessage({ id, items }, this.init.transfer?.(items) ?? [])
  }

  /** Stops the worker; pending requests are rejected with the closed error. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const error = this.init.closedError()
    for (const p of this.queue) p.reject(error)
    this.queue = []
    for (const batch of this.inflight.values()) for (const p of batch) p.reject(error)
    this.inflight.clear()
    await this.worker?.terminate()
    this.worker = undefined
  }
}
