import { createHash } from 'node:crypto'
import type { Flow, WebhookTrigger } from '@qflow/flow-schema'
import { compileJsonSchema } from '@qflow/flow-schema'
import type { ActorRef } from '@qflow/pipeline'
import {
  assertFreshTimestamp,
  type CloudEvent,
  DEFAULT_TOLERANCE_MS,
  GITHUB_HEADERS,
  headerValue,
  isJsonMediaType,
  mediaType,
  parseCloudEvent,
  parseUnixSeconds,
  type ReplayCache,
  replayCache,
  STANDARD_WEBHOOKS_HEADERS,
  STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX,
  type TokenBucketLimit,
  tokenBuckets,
  verifyGitHubWebhook,
  verifyStandardWebhook,
  verifyStandardWebhookAsymmetric,
  type WebhookRateLimiter,
  type WebhookRateLimiterInit,
  webhookRateLimiter
} from '@qflow/webhooks'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { Counter } from 'prom-client'
import { API_PREFIX, METRICS_PREFIX } from '../constants.js'
import type { ApiContext } from '../context.js'
import { envelopeSchema, ok, toApiError } from '../envelope.js'
import { ApiError, ApiErrorCode, NotFoundError, RateLimitedError, UnauthenticatedError, ValidationFailedError } from '../errors.js'
import { resultWithin } from '../launch.js'
import { ERROR_RESPONSES } from '../schemas.js'
import {
  DEFAULT_WEBHOOK_BODY_LIMIT,
  DEFAULT_WEBHOOK_REFUSAL_LIMIT,
  DEFAULT_WEBHOOK_TENANT,
  DEFAULT_WEBHOOK_WAIT_MS,
  WEBHOOK_EXECUTION_PREFIX,
  WEBHOOK_OPERATION_KIND,
  WEBHOOK_TRIGGER_CACHE_SIZE,
  WebhookErrorCode
} from './constants.js'
import { secretRoutes } from './secrets.js'

/** Options of {@link webhookRoutes}; every one optional, defaults in `webhooks/constants.ts` and `@qflow/webhooks`. */
export interface WebhookRoutesInit {
  /** Largest webhook body, bytes; larger ones answer 413 `PAYLOAD_TOO_LARGE`. Default 256 KiB. */
  bodyLimit?: number
  /** How far a `webhook-timestamp` may be from the node's clock, ms. Default 5 minutes. */
  toleranceMs?: number
  /** Token buckets per source and per tenant. Default 50/s (bursts of 100) per source, 500/s (bursts of 1,000) per tenant. */
  rateLimit?: WebhookRateLimiterInit
  /**
   * Refusals one client address may earn (requests that do not authenticate: a forged or stale
   * signature, a bad token), as a token bucket; past it the address gets 429 with `Retry-After`
   * before its signatures are checked, so a flood of forged webhooks costs no verification.
   * Default 20 refusals, refilling at 2/s; `false` for none.
   */
  refusalLimit?: TokenBucketLimit | false
  /** Webhook ids remembered at most for replay refusal. Default 100,000. */
  replayCacheEntries?: number
  /** How long a `respond: on-completion` trigger waits for the run before answering 202, ms. Default 25 s. */
  waitTimeoutMs?: number
  /** The clock, ms since the epoch. Default `Date.now`. */
  now?: () => number
}

type Json = Record<string, unknown>
type EventValidator = ((value: unknown) => boolean) & { errors?: readonly { instancePath: string; message?: string; keyword: string }[] | null }

interface CompiledTrigger {
  readonly trigger: WebhookTrigger
  readonly validate: EventValidator | undefined
}

interface CompiledFlow {
  readonly flow: Flow
  readonly hash: string
  readonly tenant: string
  readonly triggers: ReadonlyMap<string, CompiledTrigger>
}

/** An id a replay would repeat: the sender's own id and where it came from, its cache key, and when it may be forgotten. */
interface MessageId {
  /** The key in the replay cache (scoped to the trigger when claimed). */
  readonly key: string
  /** The id as the sender sent it (`webhook-id`, `X-GitHub-Delivery`, the CloudEvent's `id`). */
  readonly id: string
  /** Where it came from: the header, or `cloudevent` for a CloudEvent's `source` + `id`. */
  readonly from: string
  /** The CloudEvent's `source`, for a CloudEvent id. */
  readonly source?: string
  /** When it may be forgotten, ms since the epoch. */
  readonly expiresAt: number
}

/** Who sent a webhook, as its trigger's scheme established it. */
interface Sender {
  /** Who the operation and the run act as (vouched for by the node, which authenticated the source). */
  readonly actor: ActorRef
  /** The rate-limit source. */
  readonly source: string
  /** Ids a replay would repeat, with when each may be forgotten. */
  readonly ids: MessageId[]
}

const params = {
  type: 'object',
  required: ['flowId', 'triggerId'],
  additionalProperties: false,
  properties: { flowId: { type: 'string', minLength: 1, maxLength: 256 }, triggerId: { type: 'string', minLength: 1, maxLength: 256 } }
} as const

const accepted = {
  type: 'object',
  required: ['executionId', 'flowId', 'status'],
  additionalProperties: false,
  properties: { executionId: { type: 'string' }, flowId: { type: 'string' }, status: { type: 'string', description: 'the execution status when answered (running, paused, …)' } }
} as const

const completed = {
  type: 'object',
  required: ['executionId', 'flowId', 'status'],
  additionalProperties: false,
  properties: {
    executionId: { type: 'string' },
    flowId: { type: 'string' },
    status: { type: 'string', enum: ['completed', 'failed', 'aborted'] },
    output: { description: "the run's output (the output of the step that ended it)" },
    error: { type: 'object', additionalProperties: true, description: 'why the run failed' }
  }
} as const

const REFUSAL_REASONS: Readonly<Record<string, string>> = {
  MissingWebhookHeaderError: 'missing-header',
  MalformedWebhookHeaderError: 'malformed-header',
  WebhookSignatureError: 'bad-signature',
  StaleWebhookTimestampError: 'stale-timestamp'
}

/** Library and store errors as API answers; anything else goes to the API's own mapping. */
function webhookApiError(err: unknown, scheme: string | undefined): unknown {
  const e = err as { name?: unknown; message?: string; header?: string; attribute?: string; reason?: string; id?: string } | null
  const name = typeof e?.name === 'string' ? e.name : ''
  if (REFUSAL_REASONS[name] !== undefined) {
    return new UnauthenticatedError(e?.message ?? 'the webhook does not authenticate', {
      scheme,
      reason: REFUSAL_REASONS[name],
      ...(e?.header === undefined ? {} : { header: e.header })
    })
  }
  switch (name) {
    case 'InvalidCloudEventError':
      return new ValidationFailedError(e?.message ?? 'invalid CloudEvent', { attribute: e?.attribute, reason: e?.reason })
    case 'InvalidWebhookSecretError':
    case 'SecretNotFoundError':
      return new ApiError(500, WebhookErrorCode.MISCONFIGURED, "the trigger's signing secret is missing on this node, or unusable")
    default:
      return err
  }
}

/** The 409 answer to a replay of `message` to `triggerId`: the sender's id (never the cache's internal key). */
function replayedError(flowId: string, triggerId: string, message: MessageId): ApiError {
  return new ApiError(409, WebhookErrorCode.REPLAYED, 'this webhook was already received', {
    id: message.id,
    from: message.from,
    ...(message.source === undefined ? {} : { source: message.source }),
    flowId,
    triggerId
  })
}

function executionIdOf(flowId: string, triggerId: string, key: string): string {
  return WEBHOOK_EXECUTION_PREFIX + createHash('sha256').update(`${flowId}\n${triggerId}\n${key}`).digest('base64url').slice(0, 32)
}

/**
 * The webhook plugin: `POST /webhooks/:flowId/:triggerId` starts a flow from an external event,
 * and the secret routes (`PUT/GET/DELETE /api/v1/secrets`) hold the signing secrets triggers name.
 *
 * A webhook request is checked in this order, and nothing is started unless every check passes:
 * the flow's current version has a webhook trigger of that id (404); the body is within the limit
 * (413); the source authenticates by the trigger's scheme — a Standard Webhooks signature with a
 * fresh timestamp (`v1` HMAC under a `whsec_` secret, or `v1a` ed25519 under a `whpk_` public
 * key), GitHub's `X-Hub-Signature-256`, or an sQuid bearer token (401); the source and
 * its tenant (the flow's `daoSubnet`) are within their rate (429 with `Retry-After`); the body is
 * JSON or a CloudEvent 1.0, structured or binary (400, 415); its id was not received before within
 * the window (409); it matches the trigger's `eventSchema` (400); and the universal pipeline lets
 * the operation `webhook.receive` through (401, 403, 422). The run then starts with trigger
 * `webhook:<id>`, the event as input, and an execution id derived from the webhook's id, so a
 * redelivery never starts a second run; the answer is 202 `{executionId}`, or with
 * `respond: on-completion` the run's result (bounded; 202 if it runs longer).
 */
export function webhookRoutes(ctx: ApiContext, init: WebhookRoutesInit = {}): FastifyPluginAsync {
  const now = init.now ?? Date.now
  const toleranceMs = init.toleranceMs ?? DEFAULT_TOLERANCE_MS
  const bodyLimit = init.bodyLimit ?? DEFAULT_WEBHOOK_BODY_LIMIT
  const waitTimeoutMs = init.waitTimeoutMs ?? DEFAULT_WEBHOOK_WAIT_MS
  const limiter: WebhookRateLimiter = webhookRateLimiter({ ...init.rateLimit, now })
  const refusalsByAddress = init.refusalLimit === false ? undefined : tokenBuckets({ ...DEFAULT_WEBHOOK_REFUSAL_LIMIT, ...init.refusalLimit, now })
  const seen: ReplayCache = replayCache({ ttlMs: toleranceMs, now, ...(init.replayCacheEntries === undefined ? {} : { maxEntries: init.replayCacheEntries }) })
  const compiled = new Map<string, CompiledFlow>()
  const registry = ctx.metrics.registry
  const refusalsName = `${METRICS_PREFIX}webhook_refusals_total`
  const refusals =
    (registry.getSingleMetric(refusalsName) as Counter<'reason'> | undefined) ??
    new Counter({ name: refusalsName, help: 'Webhook requests refused, by reason (error code or signature check)', labelNames: ['reason'], registers: [registry] })

  const parts = () => ctx.node.parts

  function compile(flow: Flow, hash: string): CompiledFlow {
    const triggers = new Map<string, CompiledTrigger>()
    for (const trigger of flow.triggers ?? []) {
      if (trigger.type !== 'webhook') continue
      const validate = trigger.eventSchema === undefined ? undefined : (compileJsonSchema(trigger.eventSchema) as unknown as EventValidator)
      triggers.set(trigger.id, { trigger, validate })
    }
    const tenant = typeof flow.metadata?.daoSubnet === 'string' ? flow.metadata.daoSubnet : DEFAULT_WEBHOOK_TENANT
    const entry: CompiledFlow = { flow, hash, tenant, triggers }
    if (compiled.size >= WEBHOOK_TRIGGER_CACHE_SIZE) compiled.delete(compiled.keys().next().value as string)
    compiled.set(hash, entry)
    return entry
  }

  async function lookup(flowId: string, triggerId: string): Promise<{ flow: CompiledFlow; trigger: CompiledTrigger }> {
    const { store } = parts()
    const version = await store.flows.current(flowId).catch((err: unknown) => {
      if ((err as { name?: unknown }).name === 'InvalidInputError') return undefined
      throw err
    })
    if (version === undefined || version.archived) throw new NotFoundError(`no flow ${flowId}`, { flowId })
    const flow = compiled.get(version.flowHash) ?? compile(await store.flows.getByHash(version.flowHash), version.flowHash)
    const trigger = flow.triggers.get(triggerId)
    if (trigger === undefined) throw new NotFoundError(`flow ${flowId} has no webhook trigger ${triggerId}`, { flowId, triggerId })
    return { flow, trigger }
  }

  async function secretOf(trigger: WebhookTrigger): Promise<string> {
    const name = trigger.auth.secretRef
    if (name === undefined) throw new ApiError(500, WebhookErrorCode.MISCONFIGURED, `trigger ${trigger.id} names no auth.secretRef`)
    return parts().secrets.get(name)
  }

  async function authenticate(request: FastifyRequest, body: Buffer, flow: CompiledFlow, trigger: WebhookTrigger): Promise<Sender> {
    const { node } = parts()
    const endpoint = `${flow.flow.id}/${trigger.id}`
    const vouched: ActorRef = { did: flow.flow.owner, credentials: { vouchedBy: node.did } }
    switch (trigger.auth.scheme) {
      case 'standard-webhooks': {
        // The stored value's prefix chooses the signatures, as the spec's key formats intend: a
        // `whpk_` public key verifies `v1a` (ed25519) only, anything else is a `whsec_` secret
        // verifying `v1` (HMAC) only (and a `whsk_` secret key is refused: it belongs to the sender).
        // `v1a` is checked on this thread: with the node's signature worker instead, `pnpm bench
        // webhook` (WEBHOOK_BENCH_SCHEME=v1a) gave 4-18% fewer requests/s, the round trip costing
        // more than the ~100 µs check.
        const key = await secretOf(trigger)
        const message = key.startsWith(STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX)
          ? verifyStandardWebhookAsymmetric(key, request.headers, body, { toleranceMs, now })
          : verifyStandardWebhook(key, request.headers, body, { toleranceMs, now })
        return { actor: vouched, source: endpoint, ids: [{ key: `id:${message.id}`, id: message.id, from: STANDARD_WEBHOOKS_HEADERS.id, expiresAt: message.validUntil }] }
      }
      case 'github': {
        const delivery = verifyGitHubWebhook(await secretOf(trigger), request.headers, body)
        return {
          actor: vouched,
          source: endpoint,
          ids: delivery.deliveryId === undefined ? [] : [{ key: `id:${delivery.deliveryId}`, id: delivery.deliveryId, from: GITHUB_HEADERS.delivery, expiresAt: now() + toleranceMs }]
        }
      }
      case 'squid-token': {
        const caller = await ctx.authenticate(request)
        // Optional Standard Webhooks id and timestamp: a window and replay refusal for token senders too.
        const rawTimestamp = headerValue(request.headers, STANDARD_WEBHOOKS_HEADERS.timestamp)
        const validUntil = rawTimestamp === undefined ? now() + toleranceMs : assertFreshTimestamp(parseUnixSeconds(rawTimestamp, STANDARD_WEBHOOKS_HEADERS.timestamp), { toleranceMs, now })
        const id = headerValue(request.headers, STANDARD_WEBHOOKS_HEADERS.id)
        // The API's authenticator verified the token (bearer tokens are reusable): the node vouches from here on.
        return {
          actor: { did: caller.did, credentials: { vouchedBy: node.did } },
          source: caller.did,
          ids: id === undefined ? [] : [{ key: `id:${id}`, id, from: STANDARD_WEBHOOKS_HEADERS.id, expiresAt: validUntil }]
        }
      }
      default:
        throw new ApiError(500, WebhookErrorCode.MISCONFIGURED, `trigger ${trigger.id} has an unknown auth scheme`)
    }
  }

  function eventOf(request: FastifyRequest, body: Buffer): { input: unknown; cloudEvent: CloudEvent | undefined } {
    const cloudEvent = parseCloudEvent(request.headers, body)
    if (cloudEvent !== undefined) return { input: cloudEvent, cloudEvent }
    const type = mediaType(headerValue(request.headers, 'content-type'))
    if (type !== undefined && !isJsonMediaType(type)) {
      throw new ApiError(415, ApiErrorCode.UNSUPPORTED_MEDIA_TYPE, 'a webhook body is JSON (application/json, or a +json type) or a CloudEvent', { contentType: type })
    }
    try {
      return { input: JSON.parse(body.toString('utf8')) as unknown, cloudEvent: undefined }
    } catch (err) {
      throw new ValidationFailedError('the webhook body is not JSON', { reason: (err as Error).message })
    }
  }

  async function receive(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { flowId, triggerId } = request.params as { flowId: string; triggerId: string }
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    const { flow, trigger } = await lookup(flowId, triggerId)
    const scheme = trigger.trigger.auth.scheme
    const address = request.ip
    const standing = refusalsByAddress?.peek(address)
    if (standing !== undefined && !standing.allowed) {
      throw new RateLimitedError(standing.retryAfterMs / 1000, 'too many refused webhooks from this address', { dimension: 'address', retryAfterMs: standing.retryAfterMs })
    }
    let sender: Sender
    try {
      sender = await authenticate(request, body, flow, trigger.trigger)
    } catch (err) {
      const refused = webhookApiError(err, scheme)
      if (refused instanceof ApiError && refused.statusCode === 401) refusalsByAddress?.take(address)
      throw refused
    }

    const decision = limiter.take({ source: sender.source, tenant: flow.tenant })
    if (!decision.allowed) {
      throw new RateLimitedError(decision.retryAfterSeconds, `too many webhooks for this ${decision.dimension}`, { dimension: decision.dimension, retryAfterMs: decision.retryAfterMs })
    }

    let event: { input: unknown; cloudEvent: CloudEvent | undefined }
    try {
      event = eventOf(request, body)
    } catch (err) {
      throw webhookApiError(err, scheme)
    }
    const ce = event.cloudEvent
    const ids: MessageId[] =
      ce === undefined ? sender.ids : [...sender.ids, { key: `ce:${ce.source}\n${ce.id}`, id: ce.id, from: 'cloudevent', source: ce.source, expiresAt: now() + toleranceMs }]
    const claimed: string[] = []
    for (const message of ids) {
      const scoped = `${flowId}\n${triggerId}\n${message.key}`
      try {
        seen.claim(scoped, message.expiresAt)
      } catch (err) {
        for (const key of claimed) seen.release(key)
        if ((err as { name?: unknown } | null)?.name === 'ReplayedWebhookError') throw replayedError(flowId, triggerId, message)
        throw webhookApiError(err, scheme)
      }
      claimed.push(scoped)
    }

    try {
      if (trigger.validate !== undefined && !trigger.validate(event.input)) {
        const problems = (trigger.validate.errors ?? []).map((e) => ({ pointer: e.instancePath === '' ? '/' : e.instancePath, keyword: e.keyword, message: e.message ?? e.keyword }))
        throw new ValidationFailedError(`the event does not match the eventSchema of trigger ${triggerId}`, { problems })
      }
      const { pipeline, engine } = parts()
      const checked = await pipeline.run({
        kind: WEBHOOK_OPERATION_KIND,
        actor: sender.actor,
        resource: `qflow:flow:${flowId}`,
        action: 'execute',
        payload: event.input,
        subnet: flow.tenant,
        attributes: {
          flowId,
          triggerId,
          scheme,
          source: sender.source,
          ...(event.cloudEvent === undefined ? {} : { cloudEventType: event.cloudEvent.type, cloudEventSource: event.cloudEvent.source })
        }
      })
      const primary = ids[0]
      const launched = await engine.launch(flow.hash, event.input, {
        actor: sender.actor,
        trigger: `webhook:${triggerId}`,
        // The pipeline digested this input already: the start need not do it again.
        ...(checked.operation.payloadDigest === undefined ? {} : { inputDigest: checked.operation.payloadDigest }),
        ...(primary === undefined ? {} : { executionId: executionIdOf(flowId, triggerId, primary.key) })
      })
      const { executionId } = launched
      if (trigger.trigger.respond !== 'on-completion') return reply.code(202).send(ok(request, { executionId, flowId, status: launched.status }))
      const result = await resultWithin(launched, waitTimeoutMs)
      if (result === undefined) return reply.code(202).send(ok(request, { executionId, flowId, status: engine.live(executionId)?.status ?? launched.status }))
      return reply.code(200).send(
        ok(request, {
          executionId,
          flowId,
          status: result.status,
          ...(result.output === undefined ? {} : { output: result.output }),
          ...(result.error === undefined ? {} : { error: result.error })
        })
      )
    } catch (err) {
      // Refused before a run started: the sender may retry with the same id.
      if (!reply.sent) for (const key of claimed) seen.release(key)
      throw err
    }
  }

  return async (app) => {
    await app.register(secretRoutes(ctx), { prefix: API_PREFIX })

    await app.register(async (scope) => {
      // The raw bytes are what senders sign: take every body as a Buffer, parse it after checking.
      scope.removeAllContentTypeParsers()
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, payload, done) => done(null, payload))
      scope.addHook('onError', async (_request, _reply, err) => {
        const refused = toApiError(err)
        const reason = (refused.details as Json | undefined)?.reason
        refusals.inc({ reason: refused.code === ApiErrorCode.UNAUTHENTICATED && typeof reason === 'string' ? reason : refused.code })
      })
      scope.post(
        '/webhooks/:flowId/:triggerId',
        {
          bodyLimit,
          config: { openapi: { public: true, bodyMediaTypes: ['application/cloudevents+json', '*/*'] } },
          schema: {
            summary: 'Trigger a flow from an external event (webhook)',
            description:
              "Authenticated by the trigger's `auth.scheme`: Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`: `v1` HMAC, or `v1a` ed25519 when the trigger's secret is a `whpk_` public key), GitHub (`X-Hub-Signature-256`) or an sQuid bearer token. " +
              'The body is JSON, or a CloudEvent 1.0 in structured (`application/cloudevents+json`) or binary (`ce-*` headers) mode, checked against the trigger\'s `eventSchema`. ' +
              'Stale timestamps (401), replayed ids (409 `WEBHOOK_REPLAYED`), floods (429 with `Retry-After`) and oversized bodies (413) are refused; nothing starts for a refused request. ' +
              '202 with the execution id, or with `respond: on-completion` 200 with the result.',
            tags: ['webhooks'],
            params,
            response: {
              200: envelopeSchema(completed, 'respond: on-completion: the run ended'),
              202: envelopeSchema(accepted, 'Accepted: the run started (or is still running when the wait ran out)'),
              ...ERROR_RESPONSES
            }
          }
        },
        receive
      )
    })
  }
}
