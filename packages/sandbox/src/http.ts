import { randomUUID } from 'node:crypto'
import { isIP } from 'node:net'
import { type ActionContext, type HttpRequestParams, type HttpResponseOutput, httpRequestAction } from '@qflow/scheduler'
import {
  DEFAULT_HTTP_MAX_REDIRECTS,
  DEFAULT_HTTP_MAX_REQUEST_BYTES,
  DEFAULT_HTTP_MAX_REQUESTS,
  DEFAULT_HTTP_MAX_RESPONSE_BYTES,
  DEFAULT_HTTP_TIMEOUT_MS
} from './constants.js'
import { SandboxHostNotAllowedError, SandboxHttpError } from './errors.js'

/** Options of templates' outbound HTTP; every one has a default. */
export interface TemplateHttpInit {
  /**
   * Private, loopback, link-local and other non-public networks (IPs or CIDRs) templates may reach,
   * checked on the resolved address at connect time exactly as the `http.request` action does.
   * Default none.
   */
  readonly allowPrivateNetworks?: readonly string[]
  /** Most requests one call may make (default 16). */
  readonly maxRequestsPerCall?: number
  /** Largest response body read, bytes (default 1 MiB). */
  readonly maxResponseBytes?: number
  /** Largest request body sent, bytes (default 1 MiB). */
  readonly maxRequestBytes?: number
  /** Time limit of one request, ms (default 10 s; the call's own timeout applies too). */
  readonly timeoutMs?: number
  /** Redirects followed, each hop checked against the allowed hosts (default 5). */
  readonly maxRedirects?: number
}

/** What the worker is told about one request: the status and body, or why it was refused. */
export type HttpAnswer = { readonly ok: true; readonly status: number; readonly body: Uint8Array } | { readonly ok: false; readonly message: string }

/** The state of one call's outbound HTTP: its budget, its abort signal and the error that ended it. */
export interface CallHttp {
  /** Requests made so far. */
  requests: number
  /** The error a refused request raised (rethrown as the call's error). */
  error?: Error
  /** Aborted when the call ends (done, timed out, aborted). */
  readonly signal: AbortSignal
  /** When the call's time is up (performance.now() ms): no request is started after it. */
  readonly deadline: number
  /** The caller's idempotency key, if any; request `n` is sent with `<key>:http:<n>`. */
  readonly idempotencyKey?: string
}

/** Every status, so the template sees 4xx and 5xx answers instead of an error. */
const ANY_STATUS: readonly number[] = Array.from({ length: 500 }, (_, i) => i + 100)
const HOST_PATTERN = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Whether an `allowedHosts` entry is a hostname, an IP, or `*.domain` (subdomains of domain). */
export function isHostPattern(pattern: string): boolean {
  return isIP(pattern) !== 0 || HOST_PATTERN.test(pattern)
}

/** Whether `hostname` is one of `allowed`: equal (case-insensitive), or a subdomain of a `*.domain` entry. */
export function hostAllowed(hostname: string, allowed: readonly string[]): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  return allowed.some((entry) => {
    const pattern = entry.toLowerCase()
    if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1
    return host === pattern
  })
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Templates' outbound HTTP, done on the host: the Extism request (`{ url, method?, headers? }` and
 * a body) is checked against the template's allowed hosts, then sent through the scheduler's own
 * `http.request` action (no redirects of its own, every status accepted), so a template meets the
 * same private-network guard, timeouts and size limits as an `http.request` step.
 */
export class TemplateHttp {
  private readonly action
  private readonly maxRequests: number
  private readonly maxRequestBytes: number
  private readonly timeoutMs: number
  private readonly maxRedirects: number

  constructor(init: TemplateHttpInit = {}) {
    this.maxRequests = init.maxRequestsPerCall ?? DEFAULT_HTTP_MAX_REQUESTS
    this.maxRequestBytes = init.maxRequestBytes ?? DEFAULT_HTTP_MAX_REQUEST_BYTES
    this.timeoutMs = init.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS
    this.maxRedirects = init.maxRedirects ?? DEFAULT_HTTP_MAX_REDIRECTS
    this.action = httpRequestAction({
      maxResponseBytes: init.maxResponseBytes ?? DEFAULT_HTTP_MAX_RESPONSE_BYTES,
      maxRequestBytes: this.maxRequestBytes,
      allowPrivateNetworks: init.allowPrivateNetworks ?? []
    })
  }

  /** Runs one request of a call; a refusal is recorded in `call.error` and answered as a failure. */
  async request(template: string, allowedHosts: readonly string[], raw: unknown, body: Uint8Array | null, call: CallHttp): Promise<HttpAnswer> {
    try {
      return await this.send(template, allowedHosts, raw, body, call)
    } catch (err) {
      const error = err instanceof Error ? err : new SandboxHttpError(template, String(err))
      call.error ??= error
      return { ok: false, message: `${error.name}: ${error.message}` }
    }
  }

  private async send(template: string, allowedHosts: readonly string[], raw: unknown, body: Uint8Array | null, call: CallHttp): Promise<HttpAnswer> {
    call.requests++
    if (call.requests > this.maxRequests) throw new SandboxHttpError(template, `more than ${this.maxRequests} HTTP requests in one call`)
    if (!isRecord(raw) || typeof raw.url !== 'string') throw new SandboxHttpError(template, 'an HTTP request must be a JSON object with a url')
    let url: URL
    try {
      url = new URL(raw.url)
    } catch {
      throw new SandboxHttpError(template, `${raw.url.slice(0, 200)} is not a URL`)
    }
    const rawMethod = raw.method ?? 'GET'
    if (typeof rawMethod !== 'string' || !/^[A-Za-z]{1,16}$/.test(rawMethod)) throw new SandboxHttpError(template, 'the request method must be a word')
    let method = rawMethod.toUpperCase()
    const rawHeaders = raw.headers ?? raw.header ?? {}
    if (!isRecord(rawHeaders) || Object.values(rawHeaders).some((v) => typeof v !== 'string')) throw new SandboxHttpError(template, 'request headers must map names to strings')
    const headers = rawHeaders as Record<string, string>
    let text: string | undefined
    if (body !== null && body.length > 0 && method !== 'GET' && method !== 'HEAD') {
      if (body.length > this.maxRequestBytes) throw new SandboxHttpError(template, `the request body is larger than ${this.maxRequestBytes} bytes`)
      try {
        text = utf8.decode(body)
      } catch {
        throw new SandboxHttpError(template, 'the request body is not UTF-8 text')
      }
    }
    for (let hop = 0; ; hop++) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SandboxHttpError(template, `${url.protocol} URLs are not supported`)
      if (!hostAllowed(url.hostname, allowedHosts)) throw new SandboxHostNotAllowedError(template, url.hostname, allowedHosts)
      const remaining = call.deadline - performance.now()
      if (remaining <= 0 || call.signal.aborted) throw new SandboxHttpError(template, 'the call ended before the request was sent')
      const params: HttpRequestParams = {
        url: url.href,
        method,
        headers,
        ...(text === undefined ? {} : { body: text }),
        followRedirects: false,
        expectStatus: ANY_STATUS,
        responseType: 'bytes',
        // The call's own end (its timeout, abort or return) aborts the request through call.signal.
        timeoutMs: this.timeoutMs
      }
      const response: HttpResponseOutput = await this.action.execute(params, this.contextOf(call))
      const location = response.headers.location
      if (response.status >= 300 && response.status < 400 && location !== undefined && hop < this.maxRedirects) {
        url = new URL(location, url)
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
          method = 'GET'
          text = undefined
        }
        continue
      }
      return { ok: true, status: response.status, body: new Uint8Array(Buffer.from(response.body as string, 'base64')) }
    }
  }

  private contextOf(call: CallHttp): ActionContext {
    return {
      executionId: '',
      stepId: '',
      attempt: 1,
      idempotencyKey: call.idempotencyKey === undefined ? randomUUID() : `${call.idempotencyKey}:http:${call.requests}`,
      signal: call.signal,
      actor: '',
      scope: null,
      log: () => {}
    }
  }
}
