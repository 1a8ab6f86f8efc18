import { Worker } from 'node:worker_threads'
import type { Signer } from '@qflow/pipeline'
import { SquidError } from './errors.js'
import type { Identity } from './identity.js'

/** Thrown when an off-thread signer is used after `close()`, or its worker died. */
export class SignerClosedError extends SquidError {
  static override readonly name = 'SignerClosedError'
  override readonly name = 'SignerClosedError'
  override readonly retryable = false
  constructor(message = 'The off-thread signer is closed') {
    super(message)
  }
}

/** Options of {@link offThreadSigner}. */
export interface OffThreadSignerInit {
  /** Most signatures sent to the worker in one message. Default 256. */
  maxBatch?: number
}

/** A {@link Signer} whose ed25519 work runs on a worker thread. */
export interface OffThreadSigner extends Signer {
  /** Stops the worker; pending signatures are rejected with {@link SignerClosedError}. */
  close(): Promise<void>
}

// Plain JavaScript, evaluated as the worker: it holds the key and signs batches.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { createPrivateKey, sign } = require('node:crypto')
const prefix = Buffer.from('302e020100300506032b657004220420', 'hex')
const key = createPrivateKey({ key: Buffer.concat([prefix, Buffer.from(workerData.seed)]), format: 'der', type: 'pkcs8' })
workerData.seed.fill(0)
parentPort.on('message', ({ id, items }) => {
  const out = []
  for (const data of items) {
    const s = sign(null, data, key)
    out.push(s.buffer.slice(s.byteOffset, s.byteOffset + s.byteLength))
  }
  parentPort.postMessage({ id, out }, out)
})
`

interface Pending {
  readonly data: Uint8Array
  resolve(signature: Uint8Array): void
  reject(err: unknown): void
}

class WorkerSigner implements OffThreadSigner {
  readonly did: string
  private worker: Worker | undefined
  private queue: Pending[] = []
  private readonly inflight = new Map<number, Pending[]>()
  private next = 0
  private scheduled = false
  private closed = false
  private readonly maxBatch: number
  private readonly seed: Uint8Array

  constructor(identity: Identity, init: OffThreadSignerInit) {
    this.did = identity.did
    this.maxBatch = init.maxBatch ?? 256
    this.seed = Buffer.from(identity.export().seed, 'base64url')
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { seed: Uint8Array.from(this.seed) } })
    worker.unref()
    worker.on('message', ({ id, out }: { id: number; out: ArrayBuffer[] }) => {
      const batch = this.inflight.get(id)
      if (batch === undefined) return
      this.inflight.delete(id)
      for (let i = 0; i < batch.length; i++) (batch[i] as Pending).resolve(new Uint8Array(out[i] as ArrayBuffer))
    })
    const fail = (err: unknown): void => {
      if (this.worker === worker) this.worker = undefined
      const error = new SignerClosedError(`The signing worker stopped: ${(err as Error)?.message ?? String(err)}`)
      for (const batch of this.inflight.values()) for (const p of batch) p.reject(error)
      this.inflight.clear()
    }
    worker.on('error', fail)
    worker.on('exit', (code) => {
      if (code !== 0 || !this.closed) fail(new Error(`exit code ${code}`))
    })
    return worker
  }

  sign(data: Uint8Array): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new SignerClosedError())
    return new Promise((resolve, reject) => {
      this.queue.push({ data, resolve, reject })
      if (this.queue.length >= this.maxBatch) this.flush()
      else if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  private flush(): void {
    this.scheduled = false
    if (this.queue.length === 0) return
    const batch = this.queue.splice(0, this.maxBatch)
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
    this.worker ??= this.spawn()
    const id = this.next++
    this.inflight.set(id, batch)
    this.worker.postMessage({ id, items: batch.map((p) => p.data) })
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.seed.fill(0)
    const error = new SignerClosedError()
    for (const p of this.queue) p.reject(error)
    this.queue = []
    for (const batch of this.inflight.values()) for (const p of batch) p.reject(error)
    this.inflight.clear()
    await this.worker?.terminate()
    this.worker = undefined
  }
}

/**
 * Signs as `identity` on a worker thread: calls made in the same turn of the event loop go to the
 * worker as one message, so a busy node spends its event loop on other work and signs on another
 * core. Signatures are the identity's own (ed25519 is deterministic).
 */
export function offThreadSigner(identity: Identity, init: OffThreadSignerInit = {}): OffThreadSigner {
  return new WorkerSigner(identity, init)
}
