import type { LookupAddress } from 'node:dns'
import { lookup as dnsLookup } from 'node:dns'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { BlockList, isIP } from 'node:net'
import { type Action, type ActionContext, InvalidActionParamsError } from './action.js'

/** Params of the `http.request` action. */
export interface HttpRequestParams {
  url: string
  method?: string
  headers?: Record<string, string>
  /** A string is sent as is; anything else as JSON. */
  body?: unknown
  /** Query parameters appended to the URL. */
  query?: Record<string, string | number | boolean>
  /** Per-request timeout; the step's own timeout applies too. */
  timeoutMs?: number
  /** Statuses that count as success; default: any status below 400. */
  expectStatus?: readonly number[]
  /** Follow redirects (default true, every hop checked). */
  followRedirects?: boolean
  /** How to read the body: JSON when the content type says so (default), `json`, `text`, or `bytes` (base64). */
  responseType?: 'json' | 'text' | 'bytes'
}

/** What `http.request` returns. */
export interface HttpResponseOutput {
  status: number
  headers: Record<string, string>
  body: unknown
}

/** Options of {@link httpRequestAction}. */
export interface HttpRequestInit {
  /** Largest response body read, bytes. Default 5 MiB. */
  maxResponseBytes?: number
  /** Largest request body sent, bytes. Default 5 MiB. */
  maxRequestBytes?: number
  /** Default timeout, ms. Default 30 s. */
  timeoutMs?: number
  /** Redirects followed at most. Default 5. */
  maxRedirects?: number
  /**
   * Private, loopback, link-local and other non-public addresses the action may reach (each an
   * IP or CIDR). Default none: a flow cannot reach the node's own network unless allowed.
   */
  allowPrivateNetworks?: readonly string[]
}

/** Thrown when a request would reach an address outside the public internet that is not allowed. */
export class PrivateAddressError extends Error {
  static override readonly name = 'PrivateAddressError'
  override readonly name = 'PrivateAddressError'
  readonly retryable = false
  /** The host asked for. */
  readonly host: string
  /** The address it resolved to. */
  readonly address: string
  constructor(host: string, address: string) {
    super(`${host} resolves to ${address}, a non-public address this node does not allow flows to reach`)
    this.host = host
    this.address = address
  }
}

/** Thrown when a response is larger than allowed. */
export class HttpResponseTooLargeError extends Error {
  static override readonly name = 'HttpResponseTooLargeError'
  override readonly name = 'HttpResponseTooLargeError'
  readonly retryable = false
  /** The limit, bytes. */
  readonly limit: number
  constructor(limit: number) {
    super(`The response body is larger than ${limit} bytes`)
    this.limit = limit
  }
}

/** Thrown when the server answers with a status of 400 or more (and `failOnStatus` holds). */
export class HttpStatusError extends Error {
  static override readonly name = 'HttpStatusError'
  override readonly name = 'HttpStatusError'
  /** 5xx and 429 are worth retrying. */
  readonly retryable: boolean
  /** The status. */
  readonly status: number
  /** The response body as read. */
  readonly body: unknown
  constructor(status: number, body: unknown) {
    super(`The server answered ${status}`)
    this.status = status
    this.body = body
    this.retryable = status >= 500 || status === 429
  }
}

/** Thrown when the request fails on the network or times out (worth retrying). */
export class HttpRequestError extends Error {
  static override readonly name = 'HttpRequestError'
  override readonly name = 'HttpRequestError'
  readonly retryable = true
  /** The network error's code (`ECONNREFUSED`, `ETIMEDOUT`, ...). */
  readonly code: string
  constructor(message: string, code: string, cause?: unknown) {
    super(message, { cause })
    this.code = code
  }
}

const NON_PUBLIC = new BlockList()
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4]
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv4')
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8]
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv6')
}

function allowList(entries: readonly string[]): BlockList {
  const list = new BlockList()
  for (const entry of entries) {
    const [address, prefix] = entry.split('/')
    const family = isIP(address ?? '')
    if (family === 0) throw new InvalidActionParamsError('http.request', 'allowPrivateNetworks', `${entry} is not an IP or CIDR`)
    const type = family === 6 ? 'ipv6' : 'ipv4'
    if (prefix === undefined) list.addAddress(address as string, type)
    else list.addSubnet(address as string, Number(prefix), type)
  }
  return list
}

function isNonPublic(address: string): boolean {
  const family = isIP(address)
  if (family === 4) return NON_PUBLIC.check(address, 'ipv4')
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
    if (mapped?.[1] !== undefined) return NON_PUBLIC.check(mapped[1], 'ipv4')
    return NON_PUBLIC.check(address, 'ipv6')
  }
  return true
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

class HttpRequestAction implements Action<HttpRequestParams, HttpResponseOutput> {
  readonly name = 'http.request'
  readonly sideEffects = true
  private readonly maxResponseBytes: number
  private readonly maxRequestBytes: number
  private readonly timeoutMs: number
  private readonly maxRedirects: number
  private readonly allowed: BlockList

  constructor(init: HttpRequestInit) {
    this.maxResponseBytes = init.maxResponseBytes ?? 5 * 1024 * 1024
    this.maxRequestBytes = init.maxRequestBytes ?? 5 * 1024 * 1024
    this.timeoutMs = init.timeoutMs ?? 30_000
    this.maxRedirects = init.maxRedirects ?? 5
    this.allowed = allowList(init.allowPrivateNetworks ?? [])
  }

  private isAllowed(address: string): boolean {
    if (!isNonPublic(address)) return true
    const family = isIP(address)
    return family !== 0 && this.allowed.check(address, family === 6 ? 'ipv6' : 'ipv4')
  }

  /** A DNS lookup that refuses non-public answers at connect time, so rebinding cannot slip past. */
  private guardedLookup(host: string): (hostname: string, options: object, callback: LookupCallback) => void {
    return (hostname, options, callback) => {
      dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err !== null) return callback(err, [])
        const list = addresses as LookupAddress[]
        const refused = list.find((a) => !this.isAllowed(a.address))
        if (refused !== undefined) return callback(new PrivateAddressError(host, refused.address), [])
        if ((options as { all?: boolean }).all === true) return callback(null, list)
        const first = list[0] as LookupAddress
        callback(null, first.address, first.family)
      })
    }
  }

  async execute(params: HttpRequestParams, context: ActionContext): Promise<HttpResponseOutput> {
    if (typeof params?.url !== 'string') throw new InvalidActionParamsError(this.name, 'url', 'a URL string is required')
    let url: URL
    try {
      url = new URL(params.url)
    } catch {
      throw new InvalidActionParamsError(this.name, 'url', `${params.url} is not a URL`)
    }
    for (const [k, v] of Object.entries(params.query ?? {})) url.searchParams.append(k, String(v))
    const method = (params.method ?? 'GET').toUpperCase()
    const headers: Record<string, string> = { ...params.headers }
    let body: Buffer | undefined
    if (params.body !== undefined && params.body !== null) {
      body = Buffer.from(typeof params.body === 'string' ? params.body : JSON.stringify(params.body))
      if (typeof params.body !== 'string' && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
        headers['content-type'] = 'application/json'
      }
      if (body.length > this.maxRequestBytes) {
        throw new InvalidActionParamsError(this.name, 'body', `larger than ${this.maxRequestBytes} bytes`)
      }
    }
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'idempotency-key')) headers['idempotency-key'] = context.idempotencyKey
    const signal = AbortSignal.any([context.signal, AbortSignal.timeout(params.timeoutMs ?? this.timeoutMs)])
    let response: { status: number; headers: Record<string, string>; raw: Buffer }
    let redirects = 0
    for (;;) {
      response = await this.once(url, method, headers, body, signal)
      const location = response.headers.location
      const follow = params.followRedirects ?? true
      if (follow && response.status >= 300 && response.status < 400 && location !== undefined && redirects < this.maxRedirects) {
        redirects++
        url = new URL(location, url)
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
          body = undefined
        }
        continue
      }
      break
    }
    const contentType = response.headers['content-type'] ?? ''
    const type = params.responseType
    let parsed: unknown
    if (type === 'bytes') {
      parsed = response.raw.toString('base64')
    } else {
      const text = response.raw.toString('utf8')
      parsed = text
      if (type === 'json' || (type === undefined && /\bjson\b/i.test(contentType))) {
        try {
          parsed = text === '' ? null : JSON.parse(text)
        } catch {
          if (type === 'json') throw new HttpRequestError('The response body is not JSON', 'EBADJSON')
        }
      }
    }
    const expected = params.expectStatus
    if (expected === undefined ? response.status >= 400 : !expected.includes(response.status)) throw new HttpStatusError(response.status, parsed)
    return { status: response.status, headers: response.headers, body: parsed }
  }

  private once(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
    signal: AbortSignal
  ): Promise<{ status: number; headers: Record<string, string>; raw: Buffer }> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return Promise.reject(new InvalidActionParamsError(this.name, 'url', `${url.protocol} URLs are not supported`))
    }
    const host = url.hostname.replace(/^\[|\]$/g, '')
    if (isIP(host) !== 0 && !this.isAllowed(host)) return Promise.reject(new PrivateAddressError(host, host))
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          headers: body === undefined ? headers : { ...headers, 'content-length': String(body.length) },
          signal,
          lookup: this.guardedLookup(host) as never
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = []
          let size = 0
          res.on('data', (chunk: Buffer) => {
            size += chunk.length
            if (size > this.maxResponseBytes) {
              res.destroy()
              req.destroy()
              reject(new HttpResponseTooLargeError(this.maxResponseBytes))
              return
            }
            chunks.push(chunk)
          })
          res.on('error', (err) => reject(new HttpRequestError(err.message, 'ERESPONSE', err)))
          res.on('end', () => {
            const flat: Record<string, string> = {}
            for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v
            resolve({ status: res.statusCode ?? 0, headers: flat, raw: Buffer.concat(chunks, size) })
          })
        }
      )
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof PrivateAddressError) return reject(err)
        if ((err.cause as Error | undefined) instanceof PrivateAddressError) return reject(err.cause)
        if (err.name === 'AbortError' || signal.aborted) {
          const timedOut = (signal.reason as Error | undefined)?.name === 'TimeoutError'
          return reject(new HttpRequestError(timedOut ? `The request to ${url.host} timed out` : 'The request was aborted', timedOut ? 'ETIMEDOUT' : 'EABORTED', err))
        }
        reject(new HttpRequestError(`The request to ${url.host} failed: ${err.message}`, err.code ?? 'EREQUEST', err))
      })
      req.end(body)
    })
  }
}

/**
 * The `http.request` action: timeouts, request and response size limits, redirects followed with
 * every hop checked, and no connection to private, loopback or link-local addresses unless
 * `allowPrivateNetworks` lists them (checked on the resolved address at connect time). The step's
 * idempotency key is sent as `Idempotency-Key` unless the flow sets one.
 */
export function httpRequestAction(init: HttpRequestInit = {}): Action<HttpRequestParams, HttpResponseOutput> {
  return new HttpRequestAction(init)
}
