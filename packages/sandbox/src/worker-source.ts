/**
 * The code of a sandbox worker, run with `new Worker(WORKER_SOURCE, { eval: true })`. A worker
 * holds one warm Extism plugin (one instance of one template) on its own thread; the host sends it
 * `load` and `call` messages. It sets the fuel counter before a call, reads the fuel used, the
 * memory pages and the refused-grow flag after it, and classifies failures. After each call it
 * puts the instance back in its state right after instantiation (memory bytes and mutable
 * globals, or a new instance if memory grew), so no call's result or fuel depends on earlier calls.
 */
export const WORKER_SOURCE = `
'use strict'
const { parentPort, workerData } = require('node:worker_threads')
const { randomBytes } = require('node:crypto')
const createPlugin = require(workerData.extismPath)
let plugin = null
let instance = null
let fuel = null
let oom = null
let memory = null
let snapshot = null
let stateGlobals = []
let loadMessage = null
let ready = Promise.resolve()
let broken = null
async function instantiate(message) {
  const user = {}
  for (const name of message.hostFunctions) user[name] = grantable[name]
  if (plugin !== null) await plugin.close()
  plugin = await createPlugin(
    { wasm: [{ module: message.module }], allowedHosts: message.allowedHosts, config: message.config },
    { useWasi: false, runInWorker: false, functions: { 'extism:host/user': user }, allowedHosts: message.allowedHosts, config: message.config }
  )
  instance = await plugin.getInstance()
  fuel = instance.exports.__qflow_fuel
  oom = instance.exports.__qflow_oom
  memory = instance.exports.memory
  stateGlobals = message.stateGlobals.map((name) => instance.exports[name])
  // The state right after instantiation, restored after every call: every call starts from it.
  snapshot = { memory: new Uint8Array(memory.buffer).slice(), globals: stateGlobals.map((g) => g.value) }
}
// Puts the instance back in its post-instantiation state (a fresh instance if memory grew since).
async function restore() {
  if (memory.buffer.byteLength !== snapshot.memory.length) {
    await instantiate(loadMessage)
    return
  }
  new Uint8Array(memory.buffer).set(snapshot.memory)
  for (let i = 0; i < stateGlobals.length; i++) stateGlobals[i].value = snapshot.globals[i]
  await plugin.reset()
}
// A restore that failed leaves the worker unusable: its next call answers with the failure, and
// the host discards the worker.
function restoreAfterCall() {
  ready = restore().catch((err) => { broken = err })
}
const grantable = {
  clock_now_ms: () => BigInt(Date.now()),
  random_u64: () => randomBytes(8).readBigUInt64LE(0)
}
function pages() { return memory === null ? 0 : memory.buffer.byteLength / 65536 }
// Warm the SDK's code paths on a minimal module (one memory, nothing else) while the worker is a
// spare, so binding it to a template later costs an instantiation, not a JIT warm-up.
ready = (async () => {
  const tiny = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 0, 1, 7, 10, 1, 6, 109, 101, 109, 111, 114, 121, 2, 0])
  try {
    const warmup = await createPlugin({ wasm: [{ data: tiny }] }, { useWasi: false, runInWorker: false })
    await warmup.close()
  } catch {}
})()
parentPort.on('message', async (message) => {
  if (message.type === 'load') {
    try {
      await ready
      loadMessage = message
      await instantiate(message)
      parentPort.postMessage({ id: message.id, ok: true, pages: pages() })
    } catch (err) {
      parentPort.postMessage({ id: message.id, ok: false, kind: oom !== null && oom.value === 1 ? 'memory' : 'load', message: String(err && err.message || err), pages: pages() })
    }
    return
  }
  if (message.type === 'call') {
    await ready
    if (broken !== null) {
      parentPort.postMessage({ id: message.id, ok: false, kind: 'trap', message: 'instance could not be reset: ' + String(broken && broken.message || broken), fuelUsed: 0, pages: pages() })
      return
    }
    fuel.value = BigInt(message.fuel)
    oom.value = 0
    const started = fuel.value
    try {
      const out = await plugin.call(message.fn, message.input)
      const used = Number(started - fuel.value)
      const length = out === null ? 0 : out.byteLength
      if (length > message.maxOutputBytes) {
        parentPort.postMessage({ id: message.id, ok: false, kind: 'output', bytes: length, message: 'output too large', fuelUsed: used, pages: pages() })
        restoreAfterCall()
        return
      }
      const output = new Uint8Array(length)
      if (out !== null) output.set(new Uint8Array(out.buffer, out.byteOffset, length))
      const peak = pages()
      parentPort.postMessage({ id: message.id, ok: true, output, fuelUsed: used, pages: peak }, [output.buffer])
      restoreAfterCall()
    } catch (err) {
      const used = Number(started - fuel.value)
      let kind = 'guest-error'
      if (message.metered && fuel.value < 0n) kind = 'fuel'
      else if (oom.value === 1) kind = 'memory'
      else if (err instanceof RangeError && /call stack/i.test(err.message)) kind = 'stack-overflow'
      else if (err instanceof WebAssembly.RuntimeError) kind = 'trap'
      parentPort.postMessage({ id: message.id, ok: false, kind, message: String(err && err.message || err), fuelUsed: used, pages: pages() })
      restoreAfterCall()
    }
  }
})
`
