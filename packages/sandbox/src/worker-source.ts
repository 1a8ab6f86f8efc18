/**
 * The code of a sandbox worker, run with `new Worker(WORKER_SOURCE, { eval: true })`. A worker
 * holds one warm Extism plugin (one instance of one template) on its own thread; the host sends it
 * `load` and `call` messages. It sets the fuel counter before a call, reads the fuel used, the
 * memory pages and the refused-grow flag after it, and classifies failures. A granted
 * `http_request` blocks the worker (Atomics.wait) while the host sends the request. After each call it
 * puts the instance back in its state right after instantiation (memory bytes and mutable
 * globals, or a new instance if memory grew), so no call's result or fuel depends on earlier calls.
 */
export const WORKER_SOURCE = `
'use strict'
const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads')
const { randomBytes } = require('node:crypto')
// The SDK loads node:wasi (never used: templates get no WASI), which warns on every worker start;
// that one warning is dropped so it does not reach the node's stderr.
const emitWarning = process.emitWarning
process.emitWarning = (warning, ...rest) => {
  if (/WASI is an experimental feature/.test(String(warning && warning.message || warning))) return
  return emitWarning.call(process, warning, ...rest)
}
const createPlugin = require(workerData.extismPath)
// Outbound HTTP: the request goes to the host on parentPort; this thread blocks on httpFlag until
// the answer is on httpPort (a WebAssembly call cannot await).
const httpPort = workerData.httpPort
const httpFlag = new Int32Array(workerData.httpFlag)
let httpId = 0
let httpFailed = false
let httpStatus = 0
let callDeadline = 0
// The per-call Extism config: one null-prototype object the plugin keeps a reference to, refilled
// before each call (so config_get sees only the call's own keys, never inherited properties).
const config = Object.create(null)
const silent = { info() {}, debug() {}, warn() {}, error() {}, trace() {}, log() {} }
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
  const functions = { 'extism:host/user': user }
  if (message.allowedHosts.length > 0) functions['extism:host/env'] = { http_request: httpRequest, http_status_code: () => httpStatus }
  if (plugin !== null) await plugin.close()
  plugin = await createPlugin(
    { wasm: [{ module: message.module }] },
    { useWasi: false, runInWorker: false, functions, allowedHosts: [], config, logger: silent }
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
// extism:host/env http_request(request, body): asks the host, which checks the allowed hosts and
// the network guard and sends it; blocks until the answer. A refusal fails the call.
function httpRequest(context, requestAddress, bodyAddress) {
  const block = context.read(requestAddress)
  if (block === null) { httpFailed = true; throw new Error('http_request: no request') }
  let request
  try { request = block.json() } catch { httpFailed = true; throw new Error('http_request: the request is not JSON') }
  const bodyBlock = bodyAddress === 0n ? null : context.read(bodyAddress)
  const id = ++httpId
  Atomics.store(httpFlag, 0, 0)
  parentPort.postMessage({ type: 'http', id, request, body: bodyBlock === null ? null : bodyBlock.bytes().slice() })
  for (;;) {
    const wait = Math.max(1, callDeadline - Date.now())
    if (Atomics.wait(httpFlag, 0, 0, wait) === 'timed-out' && Atomics.load(httpFlag, 0) === 0) { httpFailed = true; throw new Error('http_request: no answer in time') }
    Atomics.store(httpFlag, 0, 0)
    let answer
    while ((answer = receiveMessageOnPort(httpPort)) !== undefined) {
      const reply = answer.message
      if (reply.id !== id) continue
      if (!reply.ok) { httpFailed = true; throw new Error('http_request refused: ' + reply.message) }
      httpStatus = reply.status
      return context.store(reply.body)
    }
  }
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
    for (const key of Object.keys(config)) delete config[key]
    if (message.config) for (const key of Object.keys(message.config)) config[key] = message.config[key]
    httpFailed = false
    httpStatus = 0
    // A backstop only: the host answers every request, and kills this worker at the call's timeout.
    callDeadline = Date.now() + message.timeoutMs + 5000
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
      else if (httpFailed) kind = 'http'
      else if (oom.value === 1) kind = 'memory'
      else if (err instanceof RangeError && /call stack/i.test(err.message)) kind = 'stack-overflow'
      else if (err instanceof WebAssembly.RuntimeError) kind = 'trap'
      parentPort.postMessage({ id: message.id, ok: false, kind, message: String(err && err.message || err), fuelUsed: used, pages: pages() })
      restoreAfterCall()
    }
  }
})
`
