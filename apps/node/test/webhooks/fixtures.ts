import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { issueToken } from '@qflow/adapters-squid'
import { signGitHubWebhook, signStandardWebhook, signStandardWebhookAsymmetric } from '@qflow/webhooks'
import { createQflowNode, type QflowNode } from '../../src/node/node.js'
import { type ApiServer, createApiServer } from '../../src/server/index.js'
import type { WebhookRoutesInit } from '../../src/server/webhooks/index.js'

/** An answer read back. */
export interface Answer {
  readonly status: number
  readonly headers: Headers
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers freely; the server checks every answer against its schema
  readonly body: any
}

/** A started node with its API (webhook plugin included) on 127.0.0.1, in a temporary data directory. */
export interface WebhookNode {
  readonly node: QflowNode
  readonly server: ApiServer
  readonly url: string
  /** A fresh admin token. */
  adminToken(): Promise<string>
  /** Stores a flow as the admin. */
  registerFlow(flow: Record<string, unknown>): Promise<void>
  /** Sends a request; a string or bytes body is sent as it is. */
  request(method: string, path: string, body?: string | Uint8Array, headers?: Record<string, string>): Promise<Answer>
  /** Executions in the store. */
  executionCount(): Promise<number>
  close(): Promise<void>
}

/** Starts a node and its API, the webhook and secret routes made with `init`. */
export async function startWebhookNode(init: WebhookRoutesInit = {}): Promise<WebhookNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'qflow-webhooks-'))
  const node = createQflowNode({ dataDir, durability: 'batched' })
  await node.start()
  const server = await createApiServer(node, { logLevel: 'silent', validateResponses: true, webhooks: init })
  const { url } = await server.listen({ host: '127.0.0.1', port: 0 })
  const adminToken = () => issueToken(node.parts.admin, { audience: 'qflow', ttlMs: 60_000 })
  return {
    node,
    server,
    url,
    adminToken,
    async registerFlow(flow) {
      const { actor } = await node.asAdmin()
      await node.parts.engine.createFlow(flow as never, { actor })
    },
    async request(method, path, body, headers = {}) {
      const response = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) })
      const text = await response.text()
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        parsed = text
      }
      return { status: response.status, headers: response.headers, body: parsed }
    },
    async executionCount() {
      return (await node.parts.store.log.listExecutions()).length
    },
    async close() {
      await server.close()
      await node.stop()
      await rm(dataDir, { recursive: true, force: true })
    }
  }
}

/**
 * A two-step flow started by webhooks: `receive` takes the event, `transform` makes the answer
 * (`transform` is a JSONata expression over `steps.receive.output`).
 */
export function webhookFlow(id: string, owner: string, triggers: readonly Record<string, unknown>[], transform: string, daoSubnet?: string): Record<string, unknown> {
  return {
    id,
    name: id,
    version: '1.0.0',
    owner,
    ...(daoSubnet === undefined ? {} : { metadata: { daoSubnet } }),
    triggers,
    steps: [
      { id: 'receive', type: 'task', action: 'data.transform', params: { expression: '$.input' } },
      { id: 'transform', type: 'task', action: 'data.transform', params: { expression: transform } }
    ]
  }
}

let counter = 0

/** Standard Webhooks headers for `body` (a fresh id unless given; the timestamp now unless given). */
export function standardHeaders(secret: string, body: string, options: { id?: string; timestamp?: number } = {}): Record<string, string> {
  const id = options.id ?? `msg_${process.pid}_${++counter}_${Date.now()}`
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000)
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signStandardWebhook(secret, { id, timestamp, payload: body })
  }
}

/**
 * Standard Webhooks headers for `body` with an asymmetric `v1a` signature made with a `whsk_`
 * secret key (a fresh id unless given; the timestamp now unless given); `extra` signatures
 * (`<version>,<base64>`) go before it in `webhook-signature`.
 */
export function asymmetricHeaders(secretKey: string, body: string, options: { id?: string; timestamp?: number; extra?: readonly string[] } = {}): Record<string, string> {
  const id = options.id ?? `msg_${process.pid}_${++counter}_${Date.now()}`
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000)
  const signature = signStandardWebhookAsymmetric(secretKey, { id, timestamp, payload: body })
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': [...(options.extra ?? []), signature].join(' ')
  }
}

/** GitHub delivery headers for `body`. */
export function githubHeaders(secret: string, body: string, delivery = `delivery-${process.pid}-${++counter}`): Record<string, string> {
  return { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': delivery, 'x-hub-signature-256': signGitHubWebhook(secret, body) }
}
