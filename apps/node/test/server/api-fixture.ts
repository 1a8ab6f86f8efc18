import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Identity, issueToken } from '@qflow/adapters-squid'
import { createQflowNode, type QflowNode } from '../../src/node/node.js'
import { type ApiServer, type ApiServerInit, createApiServer } from '../../src/server/index.js'

/** An answer read back: status, headers and the parsed JSON body (or the text when it is not JSON). */
export interface Answer {
  readonly status: number
  readonly headers: Headers
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers freely; the server checks every answer against its schema
  readonly body: any
  readonly text: string
}

/** What {@link Api.call} sends. */
export interface CallOptions {
  /** A JSON body (serialised), or a string sent as it is. */
  readonly body?: unknown
  /** The bearer token; default a fresh admin token; `null` for none. */
  readonly token?: string | null | undefined
  readonly headers?: Record<string, string>
}

/** A started node with its API listening on 127.0.0.1, in a temporary data directory. */
export interface Api {
  readonly node: QflowNode
  readonly server: ApiServer
  readonly url: string
  /** A fresh token of `identity` (default the admin) for the node's audience. */
  token(identity?: Identity): Promise<string>
  call(method: string, path: string, options?: CallOptions): Promise<Answer>
  close(): Promise<void>
}

/** Starts a node in a temporary directory and its API on an ephemeral port (answers checked against their schemas). */
export async function startApi(init: ApiServerInit = {}): Promise<Api> {
  const dataDir = await mkdtemp(join(tmpdir(), 'qflow-api-'))
  const node = createQflowNode({ dataDir, durability: 'batched' })
  await node.start()
  const server = await createApiServer(node, { logLevel: 'silent', validateResponses: true, ...init })
  const { url } = await server.listen({ host: '127.0.0.1', port: 0 })
  const admin = node.parts.admin
  const token = (identity?: Identity) => issueToken(identity ?? admin, { audience: 'qflow', ttlMs: 60_000 })
  return {
    node,
    server,
    url,
    token,
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...(options.headers ?? {}) }
      const bearer = options.token === undefined ? await token() : options.token
      if (bearer !== null) headers.authorization = `Bearer ${bearer}`
      let body: string | undefined
      if (options.body !== undefined) {
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body)
        headers['content-type'] ??= 'application/json'
      }
      const response = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) })
      const text = await response.text()
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        parsed = undefined
      }
      return { status: response.status, headers: response.headers, body: parsed, text }
    },
    async close() {
      await server.close()
      await node.stop()
      await rm(dataDir, { recursive: true, force: true })
    }
  }
}

/** A two-step flow: greet the input's name, then log it. */
export function greetingFlow(id = 'greeting', owner?: string): Record<string, unknown> {
  return {
    id,
    name: 'Greeting',
    version: '1.0.0',
    owner: owner ?? 'did:key:z6Mkor76npWMRp5n8itqirHRnoD3kafYgWUejtyHrQULYacM',
    description: 'Says hello',
    metadata: { tags: ['test', 'greeting'], category: 'demo' },
    steps: [
      { id: 'compose', type: 'task', action: 'data.transform', params: { expression: "'Hello, ' & $.input.name" } },
      { id: 'say', type: 'task', action: 'log', params: { message: '{{ steps.compose.output }}' } }
    ]
  }
}
