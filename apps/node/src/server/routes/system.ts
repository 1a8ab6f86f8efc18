import type { FastifyPluginAsync } from 'fastify'
import { ok } from '../envelope.js'
import { envelopeSchema } from '../envelope.js'
import { ERROR_RESPONSES, liveness, readiness } from '../schemas.js'
import type { ApiRuntime } from '../server.js'

const PUBLIC = { openapi: { public: true } }

/** `GET /health/live`, `GET /health/ready` and `GET /metrics` (no prefix, no token). */
export function systemRoutes(runtime: ApiRuntime): FastifyPluginAsync {
  const { ctx } = runtime
  return async (app) => {
    app.get(
      '/health/live',
      {
        config: PUBLIC,
        schema: { summary: 'Whether the process answers', tags: ['health'], response: { 200: envelopeSchema(liveness), ...ERROR_RESPONSES } }
      },
      async (request) => ok(request, { status: 'live' as const })
    )

    app.get(
      '/health/ready',
      {
        config: PUBLIC,
        schema: {
          summary: 'Whether the node serves requests (503 while starting or stopping)',
          tags: ['health'],
          response: { 200: envelopeSchema(readiness), 503: envelopeSchema(readiness), ...ERROR_RESPONSES }
        }
      },
      async (request, reply) => {
        const node = ctx.node.started ? 'ok' : 'failing'
        const api = runtime.closing() ? 'failing' : 'ok'
        const ready = node === 'ok' && api === 'ok'
        return reply.code(ready ? 200 : 503).send(ok(request, { status: ready ? 'ready' : 'not-ready', checks: { node, api } }))
      }
    )

    app.get(
      '/metrics',
      {
        config: { openapi: { public: true, responseMediaType: 'text/plain' } },
        schema: {
          summary: 'Prometheus metrics (text exposition format)',
          tags: ['health'],
          response: { 200: { type: 'string', description: 'Prometheus text exposition format 0.0.4' }, ...ERROR_RESPONSES }
        }
      },
      async (_request, reply) => {
        const text = await ctx.metrics.registry.metrics()
        return reply.type(ctx.metrics.registry.contentType).serializer((payload: unknown) => String(payload)).send(text)
      }
    )
  }
}

/** `GET /api/v1/openapi.json`: the OpenAPI 3.1 document generated from every route's schemas. */
export function openApiRoute(document: () => Record<string, unknown>): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/openapi.json',
      {
        config: PUBLIC,
        schema: {
          summary: 'This API as an OpenAPI 3.1 document',
          tags: ['meta'],
          response: { 200: { type: 'object', description: 'OpenAPI 3.1 document', additionalProperties: true }, ...ERROR_RESPONSES }
        }
      },
      async () => document()
    )
  }
}
