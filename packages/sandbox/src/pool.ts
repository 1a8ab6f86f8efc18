import { createRequire } from 'node:module'
import { MessageChannel, type MessagePort, Worker, type WorkerOptions } from 'node:worker_threads'
import type { HttpAnswer } from './http.js'
import type { CompiledModule } from './wasm-binary.js'
import { WORKER_SOURCE } from './worker-source.js'

const extismPath = createRequire(import.meta.url).resolve('@extism/extism')

/** What a worker answers to a call. */
export interface WorkerReply {
  readonly id: number
  readonly ok: boolean
  readonly output?: Uint8Array
  readonly kind?: 'load' | 'fuel' | 'memory' | 'stack-overflow' | 'trap' | 'guest-error' | 'output' | 'http'
  readonly message?: string
  readonly bytes?: number
  readonly fuelUsed?: number
  readonly pages?: number
}

/**
 * Started workers not yet bound to a template (their thread and the Extism SDK already loaded), so
 * a template's cold start skips thread start-up. Taking one starts its replacement.
 */
export class SpareWorkers {
  private readonly spares: PooledWorker[] = []
  private stopped = false

  constructor(
    private readonly count: number,
    private readonly heapMb: number
  ) {
    this.fill()
  }

  private fill(): void {
    while (!this.stopped && this.spares.length < this.count) {
      const worker = new PooledWorker(this.heapMb)
      worker.onExit = (w) => {
        const i = this.spares.indexOf(w)
        if (i >= 0) this.spares.splice(i, 1)
      }
      this.spares.push(worker)
    }
  }

  /** A started worker (a spare if one is left, else a new one). */
  take(): PooledWorker {
    const spare = this.spares.shift()
    this.fill()
    return spare ?? new PooledWorker(this.heapMb)
  }

  /** Kills the spares. */
  stop(): void {
    this.stopped = true
    for (const w of this.spares.splice(0)) w.kill()
  }
}

/** How a pool's workers are made. */
export interface PoolOptions {
  /** Where started workers come from. */
  readonly spares: SpareWorkers
  /** The compiled, prepared module. */
  readonly module: CompiledModule
  /** Exports of the module's mutable globals, restored after each call. */
  readonly stateGlobals: readonly string[]
  /** Granted host functions. */
  readonly hostFunctions: readonly string[]
  /** Allowed outbound hosts. */
  readonly allowedHosts: readonly string[]
  /** Warm instances kept. */
  readonly size: number
}

/** A template's outbound HTTP request, as its worker passes it on (the Extism request JSON and body). */
export type HttpHandler = (request: unknown, body: Uint8Array | null) => Promise<HttpAnswer>

/** The outcome of a call on a worker: a reply, or `timeout`/`aborted` (the worker was killed). */
export type CallOutcome =
  | { readonly timedOut: false; readonly aborted: false; readonly reply: WorkerReply }
  | { readonly timedOut: true; readonly aborted: false }
  | { readonly timedOut: false; readonly aborted: true }

/** Options that would make a worker's eval'd source (CommonJS) an ES module. */
const MODULE_TYPE_OPTION = /^--(input-type|experimental-default-type)(=|$)/

/**
 * The node options a worker gets: `undefined`, so it inherits the process's as Node passes them
 * (V8 options such as `--max-semi-space-size`, which `qflow` and `pnpm start` run with, included:
 * a worker refuses them when they are listed in its `execArgv`, with
 * `ERR_WORKER_INVALID_EXEC_ARGV`). Only when the process runs with an option that would make the
 * worker's eval'd source an ES module (`node --input-type=module -e …`,
 * `--experimental-default-type=module`) is a list given: the process's options without those.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] | undefined {
  if (!execArgv.some((arg) => MODULE_TYPE_OPTION.test(arg))) return undefined
  const out: string[] = []
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] as string
    if (MODULE_TYPE_OPTION.test(arg)) {
      if (!arg.includes('=')) i++
      continue
    }
    out.push(arg)
  }
  return out
}

/**
 * Starts a worker with `options`, its `execArgv` from {@link workerExecArgv}. A listed V8 option
 * makes `new Worker` throw `ERR_WORKER_INVALID_EXEC_ARGV`: the worker then starts with none listed
 * (its source needs none; V8 options apply to the whole process anyway).
 */
function startWorker(source: string, options: WorkerOptions): Worker {
  const execArgv = workerExecArgv(process.execArgv)
  if (execArgv === undefined) return new Worker(source, options)
  try {
    return new Worker(source, { ...options, execArgv })
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err
    return new Worker(source, { ...options, execArgv: [] })
  }
}

/** A worker thread running {@link WORKER_SOURCE}: started before it is given a template. */
export class PooledWorker {
  readonly worker: Worker
  private nextId = 0
  private readonly pending = new Map<number, (reply: WorkerReply) => void>()
  private readonly httpPort: MessagePort
  private readonly httpFlag = new Int32Array(new SharedArrayBuffer(4))
  dead = false
  /** Called once when the worker dies (crash, exit or kill). */
  onExit: (w: PooledWorker) => void = () => {}
  /** Answers the running call's outbound HTTP requests (set for the length of a call). */
  onHttp: HttpHandler | undefined

  constructor(heapMb: number) {
    const { port1, port2 } = new MessageChannel()
    this.httpPort = port1
    this.httpPort.unref()
    this.worker = startWorker(WORKER_SOURCE, {
      eval: true,
      workerData: { extismPath, httpPort: port2, httpFlag: this.httpFlag.buffer },
      transferList: [port2],
      resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 16 },
      stdout: false,
      stderr: false
    })
    this.worker.unref()
    this.worker.on('message', (reply: WorkerReply | HttpMessage) => {
      if ('type' in reply) {
        void this.answerHttp(reply)
        return
      }
      const resolve = this.pending.get(reply.id)
      this.pending.delete(reply.id)
      resolve?.(reply)
    })
    const fail = (err: unknown): void => {
      if (this.dead) return
      this.dead = true
      for (const [id, resolve] of this.pending) resolve({ id, ok: false, kind: 'trap', message: `worker died: ${String((err as Error)?.message ?? err)}` })
      this.pending.clear()
      this.onExit(this)
    }
    this.worker.on('error', fail)
    this.worker.on('exit', (code) => fail(new Error(`exit ${code}`)))
  }

  private async answerHttp(message: HttpMessage): Promise<void> {
    const handler = this.onHttp
    const answer: HttpAnswer =
      handler === undefined ? { ok: false, message: 'no HTTP handler for this call' } : await handler(message.request, message.body).catch((err: unknown) => ({ ok: false, message: String(err) }) as const)
    if (this.dead) return
    this.httpPort.postMessage({ id: message.id, ...answer })
    Atomics.store(this.httpFlag, 0, 1)
    Atomics.notify(this.httpFlag, 0)
  }

  request(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    const id = this.nextId++
    return new Promise((resolve) => {
      if (this.dead) {
        resolve({ id, ok: false, kind: 'trap', message: 'worker died' })
        return
      }
      this.pending.set(id, resolve)
      this.worker.postMessage({ ...message, id }, transfer)
    })
  }

  kill(): void {
    this.dead = true
    for (const [id, resolve] of this.pending) resolve({ id, ok: false, kind: 'trap', message: 'worker stopped' })
    this.pending.clear()
    this.httpPort.close()
    void this.worker.terminate()
  }
}

interface HttpMessage {
  readonly type: 'http'
  readonly id: number
  readonly request: unknown
  readonly body: Uint8Array | null
}

/**
 * The warm instances of one template: up to `size` workers, each holding one loaded plugin. A call
 * takes an idle worker (starting one if there is room, else waiting), and a worker whose call timed
 * out, trapped or broke a limit is killed and replaced on demand, never reused.
 */
export class TemplatePool {
  private readonly idle: PooledWorker[] = []
  private readonly all = new Set<PooledWorker>()
  private readonly waiting: ((w: PooledWorker | undefined) => void)[] = []
  private starting = 0
  private closed = false

  constructor(private readonly options: PoolOptions) {}

  /** Workers alive (idle or busy). */
  get workers(): number {
    return this.all.size
  }

  /** Starts a worker and loads the plugin in it; resolves its load reply. */
  private async spawn(): Promise<{ worker?: PooledWorker; reply: WorkerReply }> {
    const worker = this.options.spares.take()
    worker.onExit = (w) => this.forget(w)
    this.all.add(worker)
    const reply = await worker.request({
      type: 'load',
      module: this.options.module,
      stateGlobals: this.options.stateGlobals,
      hostFunctions: this.options.hostFunctions,
      allowedHosts: this.options.allowedHosts
    })
    if (!reply.ok) {
      this.discard(worker)
      return { reply }
    }
    return { worker, reply }
  }

  /** Starts workers until `count` are warm. A failed load is returned as its reply. */
  async warm(count = 1): Promise<WorkerReply | undefined> {
    while (this.all.size < Math.min(count, this.options.size) && !this.closed) {
      const { worker, reply } = await this.spawn()
      if (worker === undefined) return reply
      this.release(worker)
    }
    return undefined
  }

  private forget(worker: PooledWorker): void {
    this.all.delete(worker)
    const i = this.idle.indexOf(worker)
    if (i >= 0) this.idle.splice(i, 1)
  }

  /** Kills a worker and forgets it. */
  discard(worker: PooledWorker): void {
    this.forget(worker)
    worker.kill()
  }

  private release(worker: PooledWorker): void {
    if (this.closed || worker.dead) {
      this.discard(worker)
      return
    }
    const next = this.waiting.shift()
    if (next !== undefined) next(worker)
    else this.idle.push(worker)
  }

  private async acquire(): Promise<{ worker?: PooledWorker; failure?: WorkerReply }> {
    const idle = this.idle.pop()
    if (idle !== undefined) return { worker: idle }
    if (this.all.size + this.starting < this.options.size) {
      this.starting++
      try {
        const { worker, reply } = await this.spawn()
        return worker === undefined ? { failure: reply } : { worker }
      } finally {
        this.starting--
      }
    }
    return new Promise((resolve) => {
      this.waiting.push((worker) => resolve(worker === undefined ? { failure: { id: -1, ok: false, kind: 'load', message: 'pool closed' } } : { worker }))
    })
  }

  /**
   * Runs a call on a warm worker, killing the worker if it is still running after `timeoutMs`
   * (its call never settles; the worker is discarded). A worker whose call failed with anything
   * but a guest-reported error is discarded too.
   */
  async call(message: Record<string, unknown>, timeoutMs: number, signal?: AbortSignal, http?: HttpHandler): Promise<CallOutcome> {
    if (signal?.aborted) return { timedOut: false, aborted: true }
    const { worker, failure } = await this.acquire()
    if (worker === undefined) return { timedOut: false, aborted: false, reply: failure as WorkerReply }
    worker.onHttp = http
    let timer: NodeJS.Timeout | undefined
    let onAbort: (() => void) | undefined
    const stopped = new Promise<'timeout' | 'aborted'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs)
      onAbort = () => resolve('aborted')
      signal?.addEventListener('abort', onAbort, { once: true })
      if (signal?.aborted) resolve('aborted')
    })
    const reply = await Promise.race([worker.request({ ...message, timeoutMs }), stopped])
    worker.onHttp = undefined
    clearTimeout(timer)
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
    if (reply === 'timeout' || reply === 'aborted') {
      this.discard(worker)
      this.refill()
      return reply === 'timeout' ? { timedOut: true, aborted: false } : { timedOut: false, aborted: true }
    }
    if (reply.ok || reply.kind === 'guest-error' || reply.kind === 'http') this.release(worker)
    else {
      this.discard(worker)
      this.refill()
    }
    return { timedOut: false, aborted: false, reply }
  }

  /** Hands a fresh worker to a waiting caller after one was discarded. */
  private refill(): void {
    if (this.waiting.length === 0 || this.closed) return
    void this.spawn().then(({ worker }) => {
      if (worker !== undefined) this.release(worker)
      else this.waiting.shift()?.(undefined)
    })
  }

  /** Kills every worker; waiting callers get a failure. */
  close(): void {
    this.closed = true
    for (const w of this.waiting.splice(0)) w(undefined)
    for (const worker of [...this.all]) this.discard(worker)
  }
}
