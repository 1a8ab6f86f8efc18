import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { issueToken } from '@qflow/adapters-squid'
import type { QflowEvent } from '@qflow/scheduler'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createQflowClient } from '../../src/client/client.js'
import { createQflowNode, type QflowNode } from '../../src/node/node.js'
import { type ApiServer, createApiServer } from '../../src/server/index.js'
import { type WsEndpoint, wsEndpoint } from '../../src/server/ws/index.js'
import { eventually, refusedUpgrade, TestClient, transformFlow } from './fixtures.js'

/** The endpoint registered on the node's real API server, as the composer registers route plugins. */
describe('WebSocket endpoint on the API server', () => {
  let dataDir: string
  let node: QflowNode
  let server: ApiServer
  let endpoint: WsEndpoint
  let url: string
  const token = () => issueToken(node.parts.admin, { audience: 'qflow', ttlMs: 60_000 })

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'qflow-ws-api-'))
    node = createQflowNode({ dataDir, durability: 'memory' })
    await node.start()
    server = await createApiServer(node, {
      logLevel: 'silent',
      defaultMetrics: false,
      plugins: [
        (ctx) => {
          endpoint = wsEndpoint(ctx)
          return endpoint.plugin
        }
      ]
    })
    url = (await server.listen({ host: '127.0.0.1', port: 0 })).url
  })
  afterAll(async () => {
    await server?.close()
    await node?.stop()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('refuses an unauthenticated upgrade with the server envelope, request id and security headers', async () => {
    const refused = await refusedUpgrade(`${url.replace('http', 'ws')}/api/v1/ws`)
    expect(refused.status).toBe(401)
    expect(refused.body).toMatchObject({ success: false, error: { code: 'UNAUTHENTICATED' } })
    expect(refused.headers['x-request-id']).toBe(refused.body.requestId)
    expect(refused.headers['x-content-type-options']).toBe('nosniff')
  })

  it('streams a flow started through the REST API to the package client', async () => {
    const client = createQflowClient({ api: url, token: await token() })
    await client.flows.create(transformFlow('api-flow', node.parts.admin.did, 2))
    const subscription = await client.events.subscribe({ flowId: 'api-flow' })
    const { executionId } = await client.flows.start('api-flow', { input: { n: 1 }, wait: true })
    const received: QflowEvent[] = []
    for await (const event of subscription) {
      received.push(event)
      if (event.type === 'q.qflow.exec.completed.v1') break
    }
    expect(received.map((e) => e.type)).toEqual([
      'q.qflow.validation.pipeline.executed.v1',
      'q.qflow.validation.pipeline.executed.v1',
      'q.qflow.validation.pipeline.executed.v1',
      // The steps are pure: the run is one entry (its start, the first step's completion and the
      // second's, which ends it), announced once it is durable.
      'q.qflow.exec.started.v1',
      'q.qflow.exec.step.completed.v1',
      'q.qflow.exec.step.completed.v1',
      'q.qflow.exec.completed.v1'
    ])
    expect(received.at(-1)?.data).toMatchObject({ executionId, flowId: 'api-flow', status: 'completed' })
    await subscription.close()
    await eventually(() => endpoint.gateway.stats().connections === 0, 'the socket to close')
  })

  it('is documented in the OpenAPI document and counted in /metrics', async () => {
    const socket = await TestClient.open(`${url.replace('http', 'ws')}/api/v1/ws`, await token())
    await socket.subscribe('all')
    const openApi = (await (await fetch(`${url}/api/v1/openapi.json`)).json()) as { data?: { paths: Record<string, unknown> }; paths?: Record<string, unknown> }
    const paths = openApi.paths ?? openApi.data?.paths ?? {}
    expect(paths['/api/v1/ws']).toMatchObject({ get: { summary: expect.stringMatching(/WebSocket/), tags: ['events'] } })
    const metrics = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${await token()}` } })).text()
    expect(metrics).toMatch(/^qflow_ws_connections 1$/m)
    expect(metrics).toMatch(/^qflow_ws_subscriptions 1$/m)
    socket.close()
  })
})
