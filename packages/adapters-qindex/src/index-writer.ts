/**
 * The index's writer thread (built as `dist/index-writer.js`, run by {@link IndexWriterThread}):
 * it opens its own connection to the index database and writes the group-committed puts it is
 * sent, so SQLite's work on them (about a tenth of an engine's event loop) runs on another core.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { IndexStore } from './store.js'
import type { WriterFailure, WriterInit, WriterRequest, WriterResponse } from './writer-thread.js'

function failure(err: unknown): WriterFailure {
  const e = err as { name?: unknown; message?: unknown; code?: unknown } | null
  const out: WriterFailure = { name: typeof e?.name === 'string' ? e.name : 'Error', message: typeof e?.message === 'string' ? e.message : String(err) }
  if (typeof e?.code === 'string') out.code = e.code
  return out
}

const port = parentPort
if (port !== null) {
  const init = workerData as WriterInit
  let store: IndexStore | undefined
  try {
    store = IndexStore.open(init.path, { bulk: false, synchronous: init.synchronous, now: Date.now, cacheSizeMB: init.cacheSizeMB })
    port.postMessage({ ready: true } satisfies WriterResponse)
  } catch (err) {
    port.postMessage({ ready: false, failure: failure(err) } satisfies WriterResponse)
  }
  port.on('message', (request: WriterRequest) => {
    if (store === undefined) return
    if (request.op === 'close') {
      try {
        store.optimize()
      } catch {
        // Statistics are an optimisation; closing matters more.
      }
      store.close()
      store = undefined
      port.postMessage({ id: request.id, ok: true } satisfies WriterResponse)
      port.close()
      return
    }
    let errors: (unknown | undefined)[] | undefined
    try {
      errors = store.putEach(request.records, request.recordedAt)
    } catch (err) {
      errors = request.records.map(() => err)
    }
    const written = errors === undefined ? request.records.length : errors.filter((e) => e === undefined).length
    if (written > 0) store.wrote(written)
    port.postMessage(
      errors === undefined
        ? ({ id: request.id, ok: true } satisfies WriterResponse)
        : ({ id: request.id, ok: false, failures: errors.map((e) => (e === undefined ? null : failure(e))) } satisfies WriterResponse)
    )
  })
}
