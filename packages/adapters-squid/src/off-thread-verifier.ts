import { BatchingWorker } from './batching-worker.js'
import { SquidError } from './errors.js'
import { inThreadSignatureCheck, type SignatureCheck, type VerifyingKey } from './keys.js'

/** Thrown when an off-thread signature check is used after `close()`, or its worker died. */
export class SignatureCheckClosedError extends SquidError {
  static override readonly name = 'SignatureCheckClosedError'
  override readonly name = 'SignatureCheckClosedError'
  override readonly retryable = false
  constructor(message = 'The off-thread signature check is closed') {
    super(message)
  }
}

/** Options of {@link offThreadSignatureCheck}. */
export interface OffThreadSignatureCheckInit {
  /** Most signatures sent to the worker in one message. Default 256. */
  maxBatch?: number
}

/** A {@link SignatureCheck} whose ed25519 work runs on a worker thread. */
export interface OffThreadSignatureCheck extends SignatureCheck {
  /** Whether `signature` is `key`'s signature over `data` (false for a malformed signature). */
  verify(key: VerifyingKey, data: Uint8Array, signature: Uint8Array): Promise<boolean>
  /** Whether checks go to the worker yet (until it is up they run on the calling thread). */
  readonly ready: boolean
  /** Stops the worker; pending checks are rejected with {@link SignatureCheckClosedError}. */
  close(): Promise<void>
}

// Plain JavaScript, evaluated as the worker: it parses each public key once and verifies batches.
// An item is one buffer: 32 bytes of key, 64 of signature, then the data.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { createPublicKey, verify } = require('node:crypto')
const prefix = Buffer.from('302a300506032b6570032100', 'hex')
const keys = new Map()
function keyOf(raw) {
  const id = Buffer.from(raw.buffer, raw.byteOffset, 32).toString('base64')
  let key = keys.get(id)
  if (key === undefined) {
    if (keys.size >= 10000) keys.clear()
    key = createPublicKey({ key: Buffer.concat([prefix, raw.subarray(0, 32)]), format: 'der', type: 'spki' })
    keys.set(id, key)
  }
  return key
}
parentPort.postMessage({ ready: true })
parentPort.on('message', ({ id, items }) => {
  const out = []
  for (const item of items) {
    try {
      out.push(verify(null, item.subarray(96), keyOf(item), item.subarray(32, 96)))
    } catch {
      out.push(false)
    }
  }
  parentPort.postMessage({ id, out })
})
`

class WorkerSignatureCheck implements OffThreadSignatureCheck {
  private readonly worker: BatchingWorker<Uint8Array, boolean>

  constructor(init: OffThreadSignatureCheckInit) {
    this.worker = new BatchingWorker({
      source: WORKER_SOURCE,
      maxBatch: init.maxBatch ?? 256,
      closedError: (cause) =>
        cause === undefined
          ? new SignatureCheckClosedError()
          : new SignatureCheckClosedError(`The signature-checking worker stopped: ${(cause as Error)?.message ?? String(cause)}`),
      // Each item is a buffer made for the message: hand it over instead of copying it.
      transfer: (items) => items.map((item) => (item as Uint8Array).buffer as ArrayBuffer),
      // Spawned now; until it is up (tens of ms) checks run here, so a short-lived process (a CLI
      // command) never waits for a thread to boot. Should the worker die, checks stay here.
      eager: true
    })
  }

  get ready(): boolean {
    return this.worker.ready
  }

  verify(key: VerifyingKey, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (!(signature instanceof Uint8Array) || signature.length !== 64 || key.raw.length !== 32) return Promise.resolve(false)
    if (!this.worker.ready && !this.worker.isClosed) return Promise.resolve(inThreadSignatureCheck.verify(key, data, signature))
    const item = new Uint8Array(96 + data.length)
    item.set(key.raw, 0)
    item.set(signature, 32)
    item.set(data, 96)
    return this.worker.request(item)
  }

  close(): Promise<void> {
    return this.worker.close()
  }
}

/**
 * Verifies ed25519 signatures on a worker thread, for a verifier on a busy event loop
 * (`squidVerifier()({ signatures: offThreadSignatureCheck() })`): checks asked for in the same
 * turn of the event loop go to the worker as one message, and the event loop is free meanwhile.
 * The worker is spawned at once; checks made before it is up run on the calling thread.
 */
export function offThreadSignatureCheck(init: OffThreadSignatureCheckInit = {}): OffThreadSignatureCheck {
  return new WorkerSignatureCheck(init)
}
