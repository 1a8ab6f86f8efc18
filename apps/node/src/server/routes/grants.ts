import { type ConsentGrant, compileResourcePattern, createGrant, type GrantEffect } from '@qflow/adapters-qonsent'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { ADMIN_GRANT_ID } from '../../node/node.js'
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from '../constants.js'
import type { Caller } from '../context.js'
import { envelopeSchema, ok } from '../envelope.js'
import { ConflictError, NotFoundError, UnavailableError, ValidationFailedError } from '../errors.js'
import { ERROR_RESPONSES } from '../schemas.js'
import type { ApiRuntime } from '../server.js'

/** The resource the grant routes are authorized on (with action `admin`). */
export const GRANTS_RESOURCE = 'qflow:node'

/** A consent grant (or deny rule) as the API answers it. */
export interface GrantView {
  /** The grant's id (never reused, even after revocation). */
  readonly id: string
  /** Who: an identity (`did:key:…`), `*` (anyone) or a prefix ending in `*`. */
  readonly subject: string
  /** What: a resource pattern (`qflow:flow:f1`, `qflow:flow:*`, `qflow:**`). */
  readonly resource: string
  /** Which actions (`read`, `write`, `execute`, `admin`, `*`, …). */
  readonly actions: readonly string[]
  /** `allow`, or `deny` (deny rules override allows). */
  readonly effect: GrantEffect
  /** When it lapses, ms since the epoch; absent when it never does. */
  readonly expiresAt?: number
  /** Whether it has lapsed (an expired grant is kept, and reported, for a while). */
  readonly expired: boolean
  /** The identity that issued it. */
  readonly grantedBy: string
  /** Conditions it holds only under, when it has any. */
  readonly conditions?: Record<string, unknown>
  /** Whether it carries its grantor's signature. */
  readonly signed: boolean
}

/** A {@link ConsentGrant} as plain JSON, with whether it has expired at `now`. */
export function grantView(grant: ConsentGrant, now: number): GrantView {
  return {
    id: grant.id,
    subject: grant.subject,
    resource: grant.resource,
    actions: [...grant.actions],
    effect: grant.effect,
    ...(grant.expiresAt === undefined ? {} : { expiresAt: grant.expiresAt }),
    expired: grant.expiresAt !== undefined && grant.expiresAt <= now,
    grantedBy: grant.grantedBy,
    ...(grant.conditions === undefined ? {} : { conditions: grant.conditions as Record<string, unknown> }),
    signed: grant.signature !== undefined
  }
}

const str = { type: 'string' } as const
const GRANT_ID_PATTERN = '^[A-Za-z0-9._:@-]{1,128}$'

const grant = {
  type: 'object',
  required: ['id', 'subject', 'resource', 'actions', 'effect', 'expired', 'grantedBy', 'signed'],
  additionalProperties: false,
  properties: {
    id: str,
    subject: { type: 'string', description: 'an identity (did:key:…), * (anyone), or a prefix ending in * (did:squid:alice:*)' },
    resource: { type: 'string', description: 'a resource pattern: qflow:flow:f1, qflow:flow:*, qflow:flow:build-*, qflow:**' },
    actions: { type: 'array', items: str },
    effect: { type: 'string', enum: ['allow', 'deny'] },
    expiresAt: { type: 'integer', description: 'when it lapses, ms since the epoch; absent: never' },
    expired: { type: 'boolean', description: 'whether it has lapsed' },
    grantedBy: { type: 'string', description: 'the identity that issued it' },
    conditions: { type: 'object', additionalProperties: true, description: 'conditions it holds only under' },
    signed: { type: 'boolean', description: "whether it carries its grantor's signature" }
  }
} as const

const addBody = {
  type: 'object',
  required: ['subject', 'resource', 'actions'],
  additionalProperties: false,
  properties: {
    subject: { type: 'string', minLength: 1, maxLength: 512, description: 'who: an identity (did:key:…), * (anyone), or a prefix ending in * (did:squid:alice:*)' },
    resource: { type: 'string', minLength: 1, maxLength: 1024, description: 'what: a resource pattern (qflow:flow:<id>, qflow:flow:*, qflow:execution:*, qflow:secret:<name>, qflow:**)' },
    actions: {
      type: 'array',
      minItems: 1,
      maxItems: 32,
      items: { type: 'string', minLength: 1, maxLength: 64 },
      description: 'read, write, execute, admin (every action), * (every action), or a module verb'
    },
    effect: { type: 'string', enum: ['allow', 'deny'], description: 'allow (default), or deny: a deny rule overrides every allow' },
    expiresAt: { type: 'integer', minimum: 1, description: 'when the grant lapses, ms since the epoch (in the future); absent: never' },
    id: { type: 'string', pattern: GRANT_ID_PATTERN, description: 'the grant id (default a random UUID); ids are never reused' }
  }
} as const

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    subject: { type: 'string', minLength: 1, maxLength: 512, description: 'grants that apply to this identity (exactly, through *, or through a prefix)' },
    resource: { type: 'string', minLength: 1, maxLength: 1024, description: 'grants whose pattern matches this resource (qflow:flow:f1)' },
    effect: { type: 'string', enum: ['allow', 'deny'] },
    includeExpired: { type: 'boolean', description: 'include lapsed grants not purged yet (default true)' },
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT },
    cursor: { type: 'string', minLength: 1, maxLength: 2048 }
  }
} as const

const grantPage = {
  type: 'object',
  required: ['items'],
  additionalProperties: false,
  properties: { items: { type: 'array', items: grant }, nextCursor: { type: 'string', description: 'pass back to get the next page; absent on the last page' } }
} as const

const idParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const

const revokeQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: { type: 'string', minLength: 1, maxLength: 1024, description: 'why, recorded with the revocation' } }
} as const

const revoked = {
  type: 'object',
  required: ['id', 'revoked', 'grant'],
  additionalProperties: false,
  properties: { id: str, revoked: { type: 'boolean', const: true }, grant }
} as const

interface AddBody {
  readonly subject: string
  readonly resource: string
  readonly actions: readonly string[]
  readonly effect?: GrantEffect
  readonly expiresAt?: number
  readonly id?: string
}

interface ListQuery {
  readonly subject?: string
  readonly resource?: string
  readonly effect?: GrantEffect
  readonly includeExpired?: boolean
  readonly limit?: number
  readonly cursor?: string
}

/** What a page cursor remembers: the last id answered, and the query it belongs to. */
interface GrantCursor {
  readonly after: string
  readonly q: string
}

const queryKey = (q: ListQuery): string => JSON.stringify([q.subject ?? null, q.resource ?? null, q.effect ?? null, q.includeExpired ?? true])

function encodeCursor(after: string, q: ListQuery): string {
  return Buffer.from(JSON.stringify({ after, q: queryKey(q) } satisfies GrantCursor), 'utf8').toString('base64url')
}

function decodeCursor(text: string, q: ListQuery): string {
  let cursor: Partial<GrantCursor> | null | undefined
  try {
    cursor = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<GrantCursor> | null
  } catch {
    cursor = undefined
  }
  if (cursor === undefined || cursor === null || typeof cursor !== 'object' || typeof cursor.after !== 'string') {
    throw new ValidationFailedError('the cursor is not one this API issued', { cursor: text })
  }
  if (cursor.q !== queryKey(q)) throw new ValidationFailedError('the cursor was issued for another query', { cursor: text })
  return cursor.after
}

/** Maps the embedded Qonsent's errors to API errors. */
function apiErrorOf(err: unknown): unknown {
  const e = err as { name?: unknown; message?: string; path?: string; grantId?: string; revoked?: boolean } | null
  switch (e?.name) {
    case 'InvalidGrantError':
    case 'InvalidPatternError':
      return new ValidationFailedError(e.message ?? 'invalid grant', { pointer: e.path === undefined || e.path === '' ? '/' : e.path, ...(e.grantId === undefined ? {} : { grantId: e.grantId }) })
    case 'DuplicateGrantError':
      return new ConflictError(e.message ?? 'the grant id is taken', { id: e.grantId, revoked: e.revoked === true })
    case 'GrantNotFoundError':
      return new NotFoundError(e.message ?? 'no such grant', { id: e.grantId })
    case 'GrantLogWriteError':
    case 'QonsentNotStartedError':
      return new UnavailableError('the grant could not be recorded now; nothing changed, retry')
    default:
      return err
  }
}

/** Whether a grant's subject (exact, `*`, or a prefix ending in `*`) covers `did`. */
function subjectCovers(subject: string, did: string): boolean {
  if (subject === '*' || subject === did) return true
  return subject.endsWith('*') && did.startsWith(subject.slice(0, -1))
}

/**
 * The consent grant routes under `/api/v1`: `POST /grants`, `GET /grants`, `DELETE /grants/:id`,
 * over the node's embedded Qonsent. Every one needs `admin` on `qflow:node`. The admin identity's
 * own bootstrap grant cannot be revoked, nor may a deny rule take the grant routes from it (either
 * would lock the node's administration out).
 */
export function grantRoutes(runtime: ApiRuntime): FastifyPluginAsync {
  const { ctx } = runtime
  const parts = () => ctx.node.parts

  async function authorizeAdmin(request: FastifyRequest): Promise<Caller> {
    const caller = runtime.callerOf(request)
    await ctx.authorize(caller, GRANTS_RESOURCE, 'admin')
    return caller
  }

  return async (app) => {
    app.post(
      '/grants',
      {
        schema: {
          summary: 'Grant an identity actions on resources (or add a deny rule)',
          description:
            'Needs `admin` on `qflow:node`. The grant is recorded (fsynced) in the node\'s grant log before it is answered, takes effect at once ' +
            '(executions paused for lack of consent resume), and is issued by the caller (`grantedBy`). A webhook run acts as its flow\'s `owner`, ' +
            'which needs `execute` on `qflow:flow:<id>`.',
          tags: ['grants'],
          body: addBody,
          response: { 201: envelopeSchema(grant, 'The grant as stored'), ...ERROR_RESPONSES }
        }
      },
      async (request, reply) => {
        const caller = await authorizeAdmin(request)
        const body = request.body as AddBody
        const now = Date.now()
        if (body.expiresAt !== undefined && body.expiresAt <= now) {
          throw new ValidationFailedError('expiresAt is not in the future', { pointer: '/expiresAt', expiresAt: body.expiresAt, now })
        }
        const { qonsent, admin } = parts()
        let stored: ConsentGrant
        try {
          const made = createGrant({
            subject: body.subject,
            resource: body.resource,
            actions: [...body.actions],
            grantedBy: caller.did,
            ...(body.effect === undefined ? {} : { effect: body.effect }),
            ...(body.expiresAt === undefined ? {} : { expiresAt: body.expiresAt }),
            ...(body.id === undefined ? {} : { id: body.id })
          })
          if (
            made.effect === 'deny' &&
            subjectCovers(made.subject, admin.did) &&
            (made.actions.includes('admin') || made.actions.includes('*')) &&
            compileResourcePattern(made.resource).matches(GRANTS_RESOURCE)
          ) {
            throw new ConflictError(`a deny rule may not take admin on ${GRANTS_RESOURCE} from the node's admin identity: nobody could administer the node`, {
              subject: made.subject,
              resource: made.resource
            })
          }
          stored = await qonsent.grant(made)
        } catch (err) {
          throw apiErrorOf(err)
        }
        ctx.log.info({ grantId: stored.id, subject: stored.subject, resource: stored.resource, actions: stored.actions, effect: stored.effect, by: caller.did }, 'grant added')
        return reply.code(201).send(ok(request, grantView(stored, Date.now())))
      }
    )

    app.get(
      '/grants',
      {
        schema: {
          summary: 'List consent grants and deny rules, by id',
          description:
            'Needs `admin` on `qflow:node`. `subject` answers the grants that apply to that identity (exactly, through `*` or a prefix), ' +
            '`resource` the grants whose pattern matches that resource. Pass `nextCursor` back as `cursor` for the next page.',
          tags: ['grants'],
          querystring: listQuery,
          response: { 200: envelopeSchema(grantPage), ...ERROR_RESPONSES }
        }
      },
      async (request) => {
        await authorizeAdmin(request)
        const q = request.query as ListQuery
        const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, q)
        const limit = q.limit ?? DEFAULT_PAGE_LIMIT
        const all = parts()
          .qonsent.list({
            ...(q.subject === undefined ? {} : { subject: q.subject }),
            ...(q.resource === undefined ? {} : { resource: q.resource }),
            ...(q.effect === undefined ? {} : { effect: q.effect }),
            includeExpired: q.includeExpired ?? true
          })
          .filter((g) => after === undefined || g.id > after)
          .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        const now = Date.now()
        const page = all.slice(0, limit)
        const last = page.at(-1)
        const nextCursor = all.length > limit && last !== undefined ? encodeCursor(last.id, q) : undefined
        return ok(request, { items: page.map((g) => grantView(g, now)), ...(nextCursor === undefined ? {} : { nextCursor }) })
      }
    )

    app.delete(
      '/grants/:id',
      {
        schema: {
          summary: 'Revoke a consent grant or deny rule',
          description:
            "Needs `admin` on `qflow:node`. Takes effect at once (subscriptions and runs relying on it are re-checked); the id is never reused. The admin identity's bootstrap grant cannot be revoked (409).",
          tags: ['grants'],
          params: idParams,
          querystring: revokeQuery,
          response: { 200: envelopeSchema(revoked, 'The grant revoked'), ...ERROR_RESPONSES }
        }
      },
      async (request) => {
        const caller = await authorizeAdmin(request)
        const { id } = request.params as { id: string }
        const { reason } = request.query as { reason?: string }
        if (id === ADMIN_GRANT_ID) {
          throw new ConflictError(`${ADMIN_GRANT_ID} is the admin identity's own grant; revoking it would lock the node's administration out`, { id })
        }
        let gone: ConsentGrant
        try {
          gone = await parts().qonsent.revoke(id, caller.did, reason)
        } catch (err) {
          throw apiErrorOf(err)
        }
        ctx.log.info({ grantId: gone.id, subject: gone.subject, resource: gone.resource, by: caller.did, ...(reason === undefined ? {} : { reason }) }, 'grant revoked')
        return ok(request, { id: gone.id, revoked: true, grant: grantView(gone, Date.now()) })
      }
    )
  }
}
