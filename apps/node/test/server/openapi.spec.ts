import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020 } from 'ajv/dist/2020.js'
import type { FastifyPluginAsync } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Api, startApi } from './api-fixture.js'

/** Every route the SERVER area serves: [method, OpenAPI path, public]. */
const ROUTES: readonly (readonly [string, string, boolean])[] = [
  ['post', '/api/v1/flows', false],
  ['get', '/api/v1/flows', false],
  ['get', '/api/v1/flows/{id}', false],
  ['get', '/api/v1/flows/{id}/versions/{version}', false],
  ['get', '/api/v1/flows/{id}/history', false],
  ['post', '/api/v1/flows/{id}/rollback', false],
  ['post', '/api/v1/flows/{id}/archive', false],
  ['post', '/api/v1/flows/{id}/start', false],
  ['post', '/api/v1/executions', false],
  ['get', '/api/v1/executions', false],
  ['post', '/api/v1/events', false],
  ['get', '/api/v1/executions/{id}', false],
  ['get', '/api/v1/executions/{id}/logs', false],
  ['post', '/api/v1/executions/{id}/pause', false],
  ['post', '/api/v1/executions/{id}/resume', false],
  ['post', '/api/v1/executions/{id}/abort', false],
  ['get', '/api/v1/openapi.json', true],
  ['get', '/health/live', true],
  ['get', '/health/ready', true],
  ['get', '/metrics', true]
]

/** A plugin route, to check that routes registered by plugins are documented too. */
const extraRoutes = (): FastifyPluginAsync => async (app) => {
  app.post(
    '/extra/:thing',
    {
      schema: {
        summary: 'An extra route',
        params: { type: 'object', properties: { thing: { type: 'string' } } },
        body: { type: 'object', properties: { n: { type: 'integer' } } },
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } }
      }
    },
    async () => ({ ok: true })
  )
}

let api: Api
type JsonSchema = Record<string, unknown> & { required?: string[] }
interface Media {
  schema: JsonSchema
}
interface Operation {
  summary?: string
  security?: unknown[]
  parameters?: { name: string; in: string; required: boolean; schema: JsonSchema }[]
  requestBody?: { content: Record<string, Media> }
  responses: Record<string, { content?: Record<string, Media> }>
}
interface OpenApiDoc {
  openapi: string
  security: unknown
  paths: Record<string, Record<string, Operation>>
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, JsonSchema> }
}

let doc: OpenApiDoc

beforeAll(async () => {
  api = await startApi({ plugins: [extraRoutes] })
  const answer = await api.call('GET', '/api/v1/openapi.json', { token: null })
  expect(answer.status).toBe(200)
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/)
  doc = answer.body
})

afterAll(async () => {
  await api?.close()
})

describe('GET /api/v1/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator()
    const result = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>)
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
    expect(validator.version).toBe('3.1')
    expect(doc.openapi).toBe('3.1.0')
  })

  it('lists every route of the route table, and each one is a route the server answers', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`))
    for (const [method, path] of ROUTES) expect(documented).toContain(`${method} ${path}`)
    for (const entry of documented) {
      const [method, path] = entry.split(' ') as [string, string]
      const url = path.replace(/\{([^}]+)\}/g, ':$1')
      expect([entry, api.server.app.hasRoute({ method: method.toUpperCase() as 'GET', url })]).toEqual([entry, true])
    }
    expect(documented).toContain('post /extra/{thing}')
    // The webhook, secret and WebSocket areas are registered by the composer too.
    expect(documented).toEqual(expect.arrayContaining(['post /webhooks/{flowId}/{triggerId}', 'get /api/v1/secrets', 'get /api/v1/ws']))
  })

  it('leaves the webhook and WebSocket areas out when the init says so', async () => {
    const bare = await startApi({ webhooks: false, ws: false })
    try {
      const answer = await bare.call('GET', '/api/v1/openapi.json', { token: null })
      const paths = Object.keys((answer.body as OpenApiDoc).paths)
      expect(paths).not.toContain('/webhooks/{flowId}/{triggerId}')
      expect(paths).not.toContain('/api/v1/ws')
      expect(paths).toContain('/api/v1/flows')
      expect((await bare.call('POST', '/webhooks/f/t', { body: {} })).status).toBe(404)
    } finally {
      await bare.close()
    }
  })

  it('describes each route: parameters, bodies, envelope answers, errors and security', () => {
    for (const [method, path, isPublic] of ROUTES) {
      const op = doc.paths[path]?.[method] as Operation
      expect(op.summary, `${method} ${path}`).toEqual(expect.any(String))
      expect(new Set(Object.keys(op.responses)).has('4XX'), `${method} ${path}`).toBe(true)
      expect(op.responses['4XX']?.content?.['application/json']?.schema.required).toEqual(['success', 'error', 'timestamp', 'requestId'])
      const success = Object.keys(op.responses).filter((s) => s.startsWith('2'))
      expect(success.length, `${method} ${path}`).toBeGreaterThan(0)
      if (isPublic) expect(op.security).toEqual([])
      else expect(op.security).toBeUndefined()
      for (const name of path.match(/\{([^}]+)\}/g) ?? []) {
        expect((op.parameters ?? []).some((p) => `{${p.name}}` === name && p.in === 'path' && p.required)).toBe(true)
      }
      const envelope = op.responses[success[0] as string]?.content?.['application/json']?.schema
      if (path !== '/metrics' && path !== '/api/v1/openapi.json') expect(envelope?.required).toEqual(['success', 'data', 'timestamp', 'requestId'])
    }
    expect(doc.security).toEqual([{ squidBearer: [] }])
    expect(doc.components.securitySchemes.squidBearer).toMatchObject({ type: 'http', scheme: 'bearer' })
    const paths = doc.paths as Record<string, Record<string, Operation & { requestBody: { content: Record<string, Media> }; parameters: { name: string }[] }>>
    expect(Object.keys(paths['/api/v1/flows']?.post?.requestBody.content ?? {})).toEqual(['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml'])
    expect(paths['/api/v1/executions']?.post?.requestBody.content['application/json']?.schema.required).toEqual(['flowId'])
    expect(paths['/api/v1/flows']?.get?.parameters.map((p) => p.name)).toEqual(['tag', 'category', 'owner', 'status', 'q', 'includeArchived', 'limit', 'cursor'])
    expect(paths['/metrics']?.get?.responses['200']?.content).toHaveProperty('text/plain')
  })

  it('holds only JSON Schemas that compile under 2020-12 (the 3.1 dialect)', () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false })
    const schemas: unknown[] = []
    for (const ops of Object.values(doc.paths)) {
      for (const op of Object.values(ops)) {
        for (const p of op.parameters ?? []) schemas.push(p.schema)
        for (const media of Object.values(op.requestBody?.content ?? {})) schemas.push(media.schema)
        for (const response of Object.values(op.responses)) for (const media of Object.values(response.content ?? {})) schemas.push(media.schema)
      }
    }
    expect(schemas.length).toBeGreaterThan(50)
    for (const schema of schemas) expect(() => ajv.compile(schema as object)).not.toThrow()
    expect(() => ajv.compile(doc.components.schemas.Flow as object)).not.toThrow()
  })
})
