/** Largest webhook body accepted, bytes (256 KiB; Standard Webhooks advises senders to stay under 20 KB). */
export const DEFAULT_WEBHOOK_BODY_LIMIT = 256 * 1024

/** How long a webhook whose trigger says `respond: on-completion` waits for the run, ms. */
export const DEFAULT_WEBHOOK_WAIT_MS = 25_000

/** Flow versions whose webhook triggers are kept compiled (event schemas), by flow hash. */
export const WEBHOOK_TRIGGER_CACHE_SIZE = 1_000

/** Tenant of a flow whose metadata names no `daoSubnet` (the node's default subnet). */
export const DEFAULT_WEBHOOK_TENANT = 'default'

/**
 * Refused (unauthenticated) webhooks one client address may send: a token bucket of 20 refusals,
 * refilling at 2 per second. Past it the address is answered 429 before any signature is checked.
 */
export const DEFAULT_WEBHOOK_REFUSAL_LIMIT = { ratePerSecond: 2, burst: 20 } as const

/** Operation kind the universal pipeline sees for an external event. */
export const WEBHOOK_OPERATION_KIND = 'webhook.receive'

/** Prefix of the execution ids derived from a webhook's id (so a redelivery never starts a second run). */
export const WEBHOOK_EXECUTION_PREFIX = 'exec-wh-'

/** Error codes the webhook route answers with besides the API's own. */
export const WebhookErrorCode = {
  /** 409: the webhook id (or CloudEvent source + id) was already received within its window. */
  REPLAYED: 'WEBHOOK_REPLAYED',
  /** 500: the trigger names no secret, or one the node does not hold or cannot use. */
  MISCONFIGURED: 'WEBHOOK_MISCONFIGURED'
} as const
