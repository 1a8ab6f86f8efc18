#!/usr/bin/env node
// Signs a webhook as a Standard Webhooks sender does and posts it to a Qflow node's webhook route.
//
//   QFLOW_API=http://127.0.0.1:7070 QFLOW_WEBHOOK_SECRET=whsec_… \
//     node examples/api/trigger-webhook.mjs [flow id] [trigger id] [body: JSON, @file or @-]
//
// Defaults: flow webhook-echo, trigger inbound (examples/flows/webhook-echo.yaml), body
// {"type":"greeting","data":{"name":"Ada"}}. QFLOW_WEBHOOK_SECRET is the secret the trigger's
// auth.secretRef names on the node (`qflow secret set <name> --generate` prints it); it is read
// from the environment so that it never shows in the process list. QFLOW_WEBHOOK_ID sets the
// webhook-id (default a fresh msg_…): sending the same id twice shows the node's replay refusal.
// Needs Node 20 or later and nothing else: node:crypto signs, the built-in fetch sends.
import { createHmac, randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { text } from 'node:stream/consumers'

const api = (process.env.QFLOW_API ?? 'http://127.0.0.1:7070').replace(/\/+$/, '').replace(/\/api\/v1$/, '')
const secret = process.env.QFLOW_WEBHOOK_SECRET
const [flowId = 'webhook-echo', triggerId = 'inbound', bodyArg] = process.argv.slice(2)

function usage(message) {
  console.error(`${message}\nusage: QFLOW_API=<node url> QFLOW_WEBHOOK_SECRET=<whsec_…> node trigger-webhook.mjs [flow id] [trigger id] [body JSON | @file | @-]`)
  process.exit(2)
}

if (secret === undefined || secret.trim() === '') usage('Set QFLOW_WEBHOOK_SECRET to the signing secret the trigger names (qflow secret set <name> --generate prints one).')

// 1. The body: the exact bytes sent are the bytes signed, so it is sent as read, not re-serialised.
let body = '{"type":"greeting","data":{"name":"Ada"}}'
if (bodyArg === '@-') body = await text(process.stdin)
else if (bodyArg?.startsWith('@')) body = await readFile(bodyArg.slice(1), 'utf8')
else if (bodyArg !== undefined) body = bodyArg
try {
  JSON.parse(body)
} catch (err) {
  usage(`The body is not JSON: ${err.message}`)
}

// 2. Standard Webhooks: HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>" under the key,
//    which is the base64 after "whsec_"; the header value is "v1,<base64 of the MAC>".
const id = process.env.QFLOW_WEBHOOK_ID ?? `msg_${randomUUID().replaceAll('-', '')}`
const timestamp = Math.floor(Date.now() / 1000)
const key = Buffer.from(secret.trim().replace(/^whsec_/, ''), 'base64')
const signature = `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`

// 3. Send it. No bearer token: the signature is what authenticates the sender.
const url = `${api}/webhooks/${encodeURIComponent(flowId)}/${encodeURIComponent(triggerId)}`
console.log(`POST ${url} (webhook-id ${id})`)
const response = await fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature },
  body
})
const answer = await response.text()

// 4. The answer is the API envelope: 202 {executionId, flowId, status} when the trigger answers
//    on receipt (or the run outlasted the wait), 200 {executionId, flowId, status, output | error}
//    when it answers on completion, or an error {code, message, details}.
let envelope
try {
  envelope = JSON.parse(answer)
} catch {
  console.error(`${response.status}: the answer is not JSON: ${answer.slice(0, 200)}`)
  process.exit(1)
}
if (envelope.success) {
  const { executionId, status } = envelope.data
  console.log(`${response.status}: execution ${executionId} ${status}`)
} else {
  const { code, message } = envelope.error ?? {}
  console.error(`${response.status} ${code}: ${message}`)
}
console.log(JSON.stringify(envelope))
process.exit(response.ok && envelope.success && envelope.data.status !== 'failed' && envelope.data.status !== 'aborted' ? 0 : 1)
