import { parseStandardWebhooksPublicKey } from '@qflow/webhooks'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { SECRET_NAME_PATTERN } from '../../node/secrets.js'
import type { ApiContext, ApiAction } from '../context.js'
import { envelopeSchema, ok } from '../envelope.js'
import { ApiError, ApiErrorCode, NotFoundError, ValidationFailedError } from '../errors.js'
import { ERROR_RESPONSES } from '../schemas.js'

const ms = { type: 'integer', description: 'ms since the epoch' } as const

const secretInfo = {
  type: 'object',
  required: ['name', 'createdAt', 'updatedAt'],
  additionalProperties: false,
  properties: { name: { type: 'string' }, createdAt: ms, updatedAt: ms }
} as const

const nameParams = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', pattern: SECRET_NAME_PATTERN.source, description: 'letters, digits, ".", "_", "-"; what a webhook trigger\'s auth.secretRef names' } }
} as const

const putBody = {
  type: 'object',
  required: ['value'],
  additionalProperties: false,
  properties: { value: { type: 'string', minLength: 1, maxLength: 8192, description: 'the secret (e.g. a Standard Webhooks whsec_… key); never answered back' } }
} as const

/** Maps the secret store's errors to API errors. */
function apiErrorOf(err: unknown): unknown {
  const e = err as { name?: unknown; message?: string; reason?: string; field?: string } | null
  switch (e?.name) {
    case 'InvalidSecretError':
      return new ValidationFailedError(e.message ?? 'invalid secret', { field: e.field, reason: e.reason })
    case 'SecretLimitError':
      return new ApiError(409, ApiErrorCode.CONFLICT, e.message ?? 'too many secrets')
    case 'SecretNotFoundError':
      return new NotFoundError(e.message ?? 'no such secret')
    default:
      return err
  }
}

/**
 * Refuses Standard Webhooks keys that no trigger could use, before they are stored: a `whsk_`
 * secret key (the sender's private half, which must not leave it) and a `whpk_` public key that
 * does not parse (length, base64, a point of small order). Neither message repeats the value.
 */
function checkSigningKey(value: string): void {
  if (value.startsWith('whsk_')) {
    throw new ValidationFailedError('this is a Standard Webhooks secret key (whsk_): the sender keeps it; store its whpk_ public key instead', {
      pointer: '/value',
      reason: 'secret-key'
    })
  }
  if (!value.startsWith('whpk_')) return
  try {
    parseStandardWebhooksPublicKey(value)
  } catch (err) {
    const reason = (err as { reason?: unknown }).reason
    throw new ValidationFailedError('the value is not a usable Standard Webhooks public key (whpk_ and 32 bytes of base64, not a point of small order)', {
      pointer: '/value',
      ...(typeof reason === 'string' ? { reason } : {})
    })
  }
}

/**
 * `PUT /secrets/:name {value}`, `GET /secrets` (names and times, never values) and
 * `DELETE /secrets/:name`, under the prefix it is registered with (`/api/v1`). Bearer token
 * required; `write` (put, delete) or `read` (list) on `qflow:secret:<name>` (listing answers the
 * names the caller may read).
 */
export function secretRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    const secrets = () => ctx.node.parts.secrets
    const authorized = async (request: FastifyRequest, name: string, action: ApiAction) => {
      const caller = await ctx.authenticate(request)
      await ctx.authorize(caller, `qflow:secret:${name}`, action)
      return caller
    }

    app.put(
      '/secrets/:name',
      {
        schema: {
          summary: 'Store a named secret (sealed at rest with the node keyring)',
          description: 'Needs `write` on `qflow:secret:<name>`. 201 when new, 200 when replaced. The value is never answered.',
          tags: ['secrets'],
          params: nameParams,
          body: putBody,
          response: { 200: envelopeSchema(secretInfo, 'Replaced'), 201: envelopeSchema(secretInfo, 'Created'), ...ERROR_RESPONSES }
        }
      },
      async (request, reply) => {
        const { name } = request.params as { name: string }
        await authorized(request, name, 'write')
        const { value } = request.body as { value: string }
        checkSigningKey(value)
        try {
          const { info, created } = await secrets().put(name, value)
          ctx.log.info({ secret: name, created }, 'secret stored')
          return reply.code(created ? 201 : 200).send(ok(request, info))
        } catch (err) {
          throw apiErrorOf(err)
        }
      }
    )

    app.get(
      '/secrets',
      {
        schema: {
          summary: 'The names of the stored secrets (never their values)',
          description: 'Answers the secrets the caller may `read` (`qflow:secret:<name>`).',
          tags: ['secrets'],
          response: {
            200: envelopeSchema({ type: 'object', required: ['items'], additionalProperties: false, properties: { items: { type: 'array', items: secretInfo } } }),
            ...ERROR_RESPONSES
          }
        }
      },
      async (request) => {
        const caller = await ctx.authenticate(request)
        const items = []
        for (const info of secrets().list()) {
          const decision = await ctx.node.parts.qonsent.check({ subject: caller.did, resource: `qflow:secret:${info.name}`, action: 'read' })
          if (decision.allowed) items.push(info)
        }
        return ok(request, { items })
      }
    )

    app.delete(
      '/secrets/:name',
      {
        schema: {
          summary: 'Remove a stored secret',
          description: 'Needs `write` on `qflow:secret:<name>`. Webhook triggers naming it are refused until it is stored again.',
          tags: ['secrets'],
          params: nameParams,
          response: {
            200: envelopeSchema({ type: 'object', required: ['name', 'deleted'], additionalProperties: false, properties: { name: { type: 'string' }, deleted: { type: 'boolean', const: true } } }),
            ...ERROR_RESPONSES
          }
        }
      },
      async (request) => {
        const { name } = request.params as { name: string }
        await authorized(request, name, 'write')
        let deleted: boolean
        try {
          deleted = await secrets().delete(name)
        } catch (err) {
          throw apiErrorOf(err)
        }
        if (!deleted) throw new NotFoundError(`no secret named ${name}`, { name })
        ctx.log.info({ secret: name }, 'secret deleted')
        return ok(request, { name, deleted: true })
      }
    )
  }
}
