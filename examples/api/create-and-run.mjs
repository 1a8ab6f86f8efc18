#!/usr/bin/env node
// Creates a flow on a Qflow node and runs it, all through the node's REST API.
//
//   QFLOW_API=http://127.0.0.1:7070 QFLOW_TOKEN=<admin token> node examples/api/create-and-run.mjs [flow file] [name]
//
// The flow file defaults to examples/flows/welcome.yaml (sent as YAML), the name to "Ada". Needs
// Node 20 or later and nothing else: it uses the built-in fetch.
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const api = (process.env.QFLOW_API ?? 'http://127.0.0.1:7070').replace(/\/+$/, '')
const token = process.env.QFLOW_TOKEN
if (token === undefined || token === '') {
  console.error('Set QFLOW_TOKEN to a bearer token of the node (the admin token `qflow node start` printed on first start).')
  process.exit(2)
}
const flowFile = process.argv[2] ?? fileURLToPath(new URL('../flows/welcome.yaml', import.meta.url))
const name = process.argv[3] ?? 'Ada'

/** Calls the API and unwraps the envelope `{success, data | error, timestamp, requestId}`. */
async function call(method, path, body, contentType = 'application/json') {
  const response = await fetch(`${api}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) })
  })
  const envelope = await response.json()
  if (!envelope.success) {
    const { code, message, details } = envelope.error
    throw new Error(`${method} ${path} answered ${response.status} ${code}: ${message}${details === undefined ? '' : ` ${JSON.stringify(details)}`}`)
  }
  return envelope.data
}

// 1. Create (or update) the flow: YAML files go as application/yaml, JSON ones as JSON.
const text = await readFile(flowFile, 'utf8')
const isYaml = /\.ya?ml$/i.test(flowFile)
const version = await call('POST', '/flows', text, isYaml ? 'application/yaml' : 'application/json')
console.log(`flow ${version.flowId} stored: revision ${version.revision}, version ${version.flowVersion}, hash ${version.flowHash}`)

// 2. Run it and wait for the result (202 with the execution id instead if it takes longer than 20 s).
const run = await call('POST', `/flows/${encodeURIComponent(version.flowId)}/start`, { input: { name }, wait: true, timeoutMs: 20_000 })
console.log(`execution ${run.executionId}: ${run.status}`)

// 3. Read the execution back: its state and its log.
const state = await call('GET', `/executions/${run.executionId}`)
const logs = await call('GET', `/executions/${run.executionId}/logs?limit=1000`)
console.log(`steps: ${Object.entries(state.steps).map(([id, step]) => `${id}=${step.status}`).join(' ')}`)
console.log(`log entries: ${logs.items.length}`)
console.log(JSON.stringify({ executionId: run.executionId, status: state.status, output: state.output ?? null }))
if (state.status !== 'completed') process.exit(1)
