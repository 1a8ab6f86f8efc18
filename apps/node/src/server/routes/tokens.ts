import { type DecodedToken, decodeToken, type TokenRevocation } from '@qflow/adapters-squid'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { Caller } from '../context.js'
import { envelopeSchema, ok } from '../envelope.js'
import { ApiError, ApiErrorCode, UnavailableError, ValidationFailedError } from '../errors.js'
import { ERROR_RESPONSES } from '../schemas.js'
import type { ApiRuntime } from '../server.js'
import { GRANTS_RESOURCE } from './grants.js'

/** Revocations `GET /tokens/revocations` answers at most at once. */
const MAX_REVOCATIONS_LISTED = 10_000

const str = { type: 'string' } as const

const revocation = {
  type: 'object',
  required: ['kind', 'revokedAt'],
  additionalProperties: false,
  properties: {
    kind: { type: 'string', enum: ['token', 'identity'], description: 'one token (by issuer and nonce), or every earlier token of an identity' },
    issuer: { type: 'string', description: 'token: its issuer (iss)' },
    nonce: { type: 'string', description: 'token: its nonce (jti)' },
    expiresAt: { type: 'integer', description: 'token: when it expires (the entry is dropped then), ms since the epoch' },
    identity: { type: 'string', description: 'identity: whose tokens (issued by it, or speaking for it)' },
    before: { type: 'integer', description: 'identity: tokens issued before this are refused (one issued in the same second counts as before), ms since the epoch' },
    revokedAt: { type: 'integer', description: 'when, ms since the epoch' },
    reason: str,
    by: { type: 'string', description: 'who revoked it' }
  }
} as const

const revokeBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    token: { type: 'string', minLength: 1, maxLength: 16_384, description: 'a bearer token to revoke (until it expires)' },
    identity: { type: 'string', minLength: 1, maxLength: 512, description: 'an identity whose every token issued so far is revoked' },
    before: { type: 'integer', minimum: 0, description: 'with identity: revoke only tokens issued before this, ms since the epoch (not in the future; default now)' },
    reason: { type: 'string', minLength: 1, maxLength: 512, description: 'why, recorded with the revocation' }
  }
} as const

const revocationList = {
  type: 'object',
  required: ['items', 'total'],
  additionalProperties: false,
  properties: {
    items: { type: 'array', items: revocation },
    total: { type: 'integer', description: 'revocations in force; items holds the first 10,000' }
  }
} as const

interface RevokeBody {
  readonly token?: string
  readonly identity?: string
  readonly before?: number
  readonly reason?: string
}

/** Maps the registry's errors to API errors. */
function apiErrorOf(err: unknown): unknown {
  const e = err as { name?: unknown; message?: string; path?: string; capacity?: number; code?: unknown } | null
  switch (e?.name) {
    case 'InvalidTokenRevocationError':
      return new ValidationFailedError(e.message ?? 'invalid revocation', { pointer: e.path ?? '/' })
    case 'TokenRevocationLimitError':
      return new ApiError(503, ApiErrorCode.UNAVAILABLE, e.message ?? 'the revocation registry is full', { capacity: e.capacity }, { 'retry-after': '60' })
    default:
      if (typeof (err as { code?: unknown } | null)?.code !== 'string') return err
      // A file system error: the revocation holds in memory; only writing it down failed.
      return new UnavailableError('the revocation holds on this node until it restarts, but it could not be written to disk; retry', {
        inEffect: true,
        reason: e?.code
      })
  }
}

function decodedOf(token: string): DecodedToken {
  try {
    return decodeToken(token)
  } catch (err) {
    throw new ValidationFailedError(`the token cannot be read: ${(err as Error).message}`, { pointer: '/token' })
  }
}

/**
 * The token revocation routes under `/api/v1`: `POST /tokens/revocations` revokes one bearer token
 * (until it expires) or every token of an identity issued so far; `GET /tokens/revocations` lists
 * the revocations in force. Anyone may revoke their own tokens (a token they issued or that speaks
 * for them, or their own identity); anything else, and the list, needs `admin` on `qflow:node`.
 * A revocation takes effect at once: the API refuses the token (401, `details.reason`
 * `TokenRevokedError`) and closes its WebSocket connections with 1008.
 */
export function tokenRoutes(runtime: ApiRuntime): FastifyPluginAsync {
  const { ctx } = runtime
  const registry = () => ctx.node.parts.tokenRevocations

  async function authorizeUnlessOwn(caller: Caller, own: boolean): Promise<void> {
    if (!own) await ctx.authorize(caller, GRANTS_RESOURCE, 'admin')
  }

  return async (app) => {
    app.post(
      '/tokens/revocations',
      {
        schema: {
          summary: 'Revoke a bearer token, or every token of an identity issued so far',
          description:
            'Exactly one of `token` (that token, until it expires) and `identity` (every token it signed or that speaks for it, issued before `before`, default now). ' +
            'Your own tokens and identity need nothing more; any other needs `admin` on `qflow:node`. Takes effect at once and is kept in the data directory ' +
            '(`token-revocations.json`). Revoking the admin identity locks the API out until a new admin token is issued on the node (`qflow token issue --admin`).',
          tags: ['tokens'],
          body: revokeBody,
          response: { 201: envelopeSchema(revocation, 'The revocation in force'), ...ERROR_RESPONSES }
        }
      },
      async (request: FastifyRequest, reply) => {
        const caller = runtime.callerOf(request)
        const body = request.body as RevokeBody
        if ((body.token === undefined) === (body.identity === undefined)) {
          throw new ValidationFailedError('give exactly one of token and identity', { pointer: '/' })
        }
        if (body.token !== undefined && body.before !== undefined) throw new ValidationFailedError('before goes with identity, not token', { pointer: '/before' })
        const options = { by: caller.did, ...(body.reason === undefined ? {} : { reason: body.reason }) }
        let entry: TokenRevocation
        if (body.token !== undefined) {
          const { claims, signingInput, signature } = decodedOf(body.token)
          // Only a token its issuer really signed names whose it is: otherwise anyone could write
          // themselves a token with another issuer's nonce and revoke that issuer's token.
          if (!(await ctx.node.parts.verifier.verifySignature(claims.iss, signingInput, signature).catch(() => false))) {
            throw new ValidationFailedError("the token's signature does not verify under its issuer's key", { pointer: '/token' })
          }
          await authorizeUnlessOwn(caller, claims.iss === caller.did || claims.sub === caller.did)
          try {
            entry = await registry().revokeToken({ issuer: claims.iss, nonce: claims.jti, expiresAt: claims.exp * 1000 }, options)
          } catch (err) {
            throw apiErrorOf(err)
          }
        } else {
          const identity = body.identity as string
          await authorizeUnlessOwn(caller, identity === caller.did)
          try {
            entry = await registry().revokeIdentity(identity, { ...options, ...(body.before === undefined ? {} : { before: body.before }) })
          } catch (err) {
            throw apiErrorOf(err)
          }
        }
        ctx.log.info({ ...entry, by: caller.did }, entry.kind === 'token' ? 'token revoked' : 'identity tokens revoked')
        return reply.code(201).send(ok(request, entry))
      }
    )

    app.get(
      '/tokens/revocations',
      {
        schema: {
          summary: 'List the token revocations in force',
          description: 'Needs `admin` on `qflow:node`. Identities first, then tokens not yet expired, each oldest first.',
          tags: ['tokens'],
          response: { 200: envelopeSchema(revocationList), ...ERROR_RESPONSES }
        }
      },
      async (request) => {
        await ctx.authorize(runtime.callerOf(request), GRANTS_RESOURCE, 'admin')
        const all = registry().entries()
        return ok(request, { items: all.slice(0, MAX_REVOCATIONS_LISTED), total: all.length })
      }
    )
  }
}
