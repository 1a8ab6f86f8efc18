import type { Signer } from '@qflow/pipeline'
import { BatchingWorker } from './batching-worker.js'
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
    out.push(new Uint8Array(s.buffer.slice(s.byteOffset, s.byteOffset + s.byteLength)))
  }
  parentPort.postMessage({ id, out }, out.map((s) => s.buffer))
})
`

class WorkerSigner implements OffThreadSigner {
  readonly did: string
  private readonly seed: Uint8Array
  private readonly worker: BatchingWorker<Uint8Array, Uint8Array>

  constructor(identity: Identity, init: OffThreadSignerInit) {
    this.did = identity.did
    this.seed = Buffer.from(identity.export().seed, 'base64url')
    this.worker = new BatchingWorker({
      source: WORKER_SOURCE,
      workerData: () => ({ seed: Uint8Array.from(this.seed) }),
      maxBatch: init.maxBatch ?? 256,
      closedError: (cause) =>
        cause === undefined ? new SignerClosedError() : new SignerClosedError(`The signing worker stopped: ${(cause as Error)?.message ?? String(cause)}`)
    })
  }

  sign(data: Uint8Array): Promise<Uint8Array> {
    return this.worker.request(data)
  }

  async close(): Promise<void> {
    this.seed.fill(0)
    await this.worker.close()
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
