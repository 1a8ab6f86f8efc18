import type { ConsentDecision, ConsentRequest, Qonsent } from '@qflow/pipeline'
import { DEFAULT_CHECK_PATH, DEFAULT_HTTP_TIMEOUT_MS, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_SERVICE_URL } from './constants.js'
import { InvalidConsentRequestError, QonsentProtocolError, QonsentUnavailableError } from './errors.js'
import { decisionFromWire } from './http-wire.js'

/** Options of the HTTP Qonsent client. Every one is optional. */
export interface HttpQonsentInit {
  /** The service's base URL. Default `http://127.0.0.1:3003`. */
  url?: string
  /** The check endpoint's path. Default `/api/v1/qonsent/check`. */
  path?: string
  /** How long one check may take, ms (AbortSignal.timeout). Default 2,000. */
  timeoutMs?: number
  /** Extra headers sent with every check. */
  headers?: Readonly<Record<string, string>>
  /** A bearer token (the node's sQuid token), fetched per check; sent as `Authorization: Bearer …`. */
  token?: () => string | Promise<string>
  /** Largest answer read, bytes. Default 64 KiB. */
  maxResponseBytes?: number
}

/** What the HTTP Qonsent client is given. */
export interface HttpQonsentComponents {
  /** The fetch implementation. Default the global `fetch`. */
  fetch?: typeof globalThis.fetch
  /** The clock used to tell an expired answer, ms since the epoch. Default `Date.now`. */
  now?: () => number
}

/** A {@link Qonsent} that asks the Qonsent service over HTTP. */
export interface HttpQonsent extends Qonsent {
  /** The check endpoint's full URL. */
  readonly url: string
  /**
   * Asks the service.
   *
   * @throws {@link QonsentUnavailableError} (retryable) when it cannot be reached or does not answer in time.
   * @throws {@link QonsentProtocolError} when it answers something that is not a check answer.
   * @throws {@link InvalidConsentRequestError} when the request cannot be sent as JSON.
   */
  check(request: ConsentRequest): Promise<ConsentDecision>
  /** Aborts the checks in flight (they fail as unavailable); later checks work again. */
  stop(): Promise<void>
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

class HttpQonsentClient implements HttpQonsent {
  readonly url: string
  private readonly fetch: typeof globalThis.fetch
  private readonly now: () => number
  private readonly timeoutMs: number
  private readonly maxResponseBytes: number
  private stopping = new AbortController()

  constructor(
    private readonly init: HttpQonsentInit,
    components: HttpQonsentComponents
  ) {
    this.url = new URL(init.path ?? DEFAULT_CHECK_PATH, init.url ?? DEFAULT_SERVICE_URL).toString()
    this.fetch = components.fetch ?? globalThis.fetch
    this.now = components.now ?? Date.now
    this.timeoutMs = init.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS
    this.maxResponseBytes = init.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES
  }

  async check(request: ConsentRequest): Promise<ConsentDecision> {
    let body: string
    try {
      body = JSON.stringify({ resource: request.resource, identity: request.subject, action: request.action, context: request.context ?? {} })
    } catch (err) {
      throw new InvalidConsentRequestError('context', undefined, err)
    }
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', ...this.init.headers }
    if (this.init.token !== undefined) headers.authorization = `Bearer ${await this.init.token()}`
    const timeout = AbortSignal.timeout(this.timeoutMs)
    const stopping = this.stopping.signal
    const signal = AbortSignal.any([timeout, stopping])
    let response: Response
    let text: string
    try {
      response = await this.fetch(this.url, { method: 'POST', headers, body, signal })
      text = await this.readBody(response)
    } catch (err) {
      if (err instanceof QonsentProtocolError) throw err
      const why = timeout.aborted
        ? `did not answer within ${this.timeoutMs} ms`
        : stopping.aborted
          ? 'was not waited for: the client stopped'
          : `could not be reached (${(err as Error)?.message ?? String(err)})`
      throw new QonsentUnavailableError(this.url, `The Qonsent service at ${this.url} ${why}`, { cause: err })
    }
    const status = response.status
    let parsed: unknown
    let parseError: unknown
    try {
      parsed = text === '' ? undefined : JSON.parse(text)
    } catch (err) {
      parseError = err
    }
    if (status === 408 || status === 425 || status === 429 || status >= 500) {
      throw new QonsentUnavailableError(this.url, `The Qonsent service at ${this.url} answered HTTP ${status}${this.serviceMessage(parsed)}`, { status })
    }
    if (status < 200 || status >= 300) {
      // Some deployments answer a refusal with 403 and a check answer: take it as one.
      if (status === 403 && parseError === undefined) {
        const decision = decisionFromWire(parsed, this.now())
        if (!('problem' in decision) && !decision.allowed) return decision
      }
      const code = isRecord(parsed) && typeof parsed.code === 'string' ? parsed.code : undefined
      throw new QonsentProtocolError(this.url, `The Qonsent service at ${this.url} answered HTTP ${status}${this.serviceMessage(parsed)}`, { status, code })
    }
    if (parseError !== undefined) {
      throw new QonsentProtocolError(this.url, `The Qonsent service at ${this.url} answered something that is not JSON`, { status, cause: parseError })
    }
    const decision = decisionFromWire(parsed, this.now())
    if ('problem' in decision) {
      throw new QonsentProtocolError(this.url, `The Qonsent service at ${this.url} answered a malformed check: ${decision.problem}`, { status })
    }
    return decision
  }

  async stop(): Promise<void> {
    this.stopping.abort()
    this.stopping = new AbortController()
  }

  private serviceMessage(parsed: unknown): string {
    if (!isRecord(parsed)) return ''
    const code = typeof parsed.code === 'string' ? parsed.code.slice(0, 64) : undefined
    const message = typeof parsed.message === 'string' ? parsed.message.slice(0, 256) : undefined
    return code === undefined && message === undefined ? '' : `: ${[code, message].filter((s) => s !== undefined).join(' ')}`
  }

  private async readBody(response: Response): Promise<string> {
    const declared = Number(response.headers.get('content-length') ?? Number.NaN)
    if (declared > this.maxResponseBytes) {
      await response.body?.cancel()
      throw new QonsentProtocolError(this.url, `The answer is larger than ${this.maxResponseBytes} bytes`, { status: response.status })
    }
    if (response.body === null) return ''
    const reader = response.body.getReader()
    const chunks: Uint8Array[] = []
    let size = 0
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > this.maxResponseBytes) {
        await reader.cancel()
        throw new QonsentProtocolError(this.url, `The answer is larger than ${this.maxResponseBytes} bytes`, { status: response.status })
      }
      chunks.push(value)
    }
    return Buffer.concat(chunks).toString('utf8')
  }
}

/**
 * The HTTP Qonsent client, as a component factory: `httpQonsent({ url })(components)`. It
 * speaks the Qonsent service's `POST /api/v1/qonsent/check` (`{ resource, identity, action,
 * context }` → `{ allowed, reason, policy, expiresAt }`, bare or in `{ status: 'ok', data }`);
 * an answer that is not allowed and whose `expiresAt` has passed is `expired`.
 */
export function httpQonsent(init: HttpQonsentInit = {}): (components?: HttpQonsentComponents) => HttpQonsent {
  return (components = {}) => new HttpQonsentClient(init, components)
}
