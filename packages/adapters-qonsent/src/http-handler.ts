import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ConsentRequest, Qonsent } from '@qflow/pipeline'
import { DEFAULT_CHECK_PATH, DEFAULT_MAX_REQUEST_BYTES } from './constants.js'
import { decisionToWire } from './http-wire.js'

/** Options of {@link createQonsentHttpHandler}. Every one is optional. */
export interface QonsentHttpHandlerInit {
  /** The path checks are answered on. Default `/api/v1/qonsent/check`. */
  path?: string
  /** Largest request body read, bytes. Default 64 KiB. */
  maxRequestBytes?: number
  /** Decides whether a caller may ask at all (e.g. checks its bearer token); a `false` answers 401. Default: everyone may. */
  authorize?: (request: IncomingMessage) => boolean | Promise<boolean>
}

/** A `node:http` request handler. */
export type QonsentHttpHandler = (request: IncomingMessage, response: ServerResponse) => void

class BodyTooLargeError extends Error {
  static override readonly name = 'BodyTooLargeError'
  override readonly name = 'BodyTooLargeError'
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers })
  response.end(text)
}

function sendError(response: ServerResponse, status: number, code: string, message: string, retryable = false, headers: Record<string, string> = {}): void {
  send(response, status, { status: 'error', code, message, retryable, timestamp: new Date().toISOString() }, headers)
}

function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'] ?? Number.NaN)
    if (declared > limit) {
      reject(new BodyTooLargeError())
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        request.removeAllListeners('data')
        request.resume()
        reject(new BodyTooLargeError())
        return
      }
      chunks.push(chunk)
    })
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    request.on('error', reject)
  })
}

function parseCheck(text: string): ConsentRequest | string {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return 'The body is not JSON'
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'The body must be a JSON object'
  const { resource, identity, action, context } = body as Record<string, unknown>
  if (typeof resource !== 'string' || resource === '') return '`resource` must be a non-empty string'
  if (typeof identity !== 'string' || identity === '') return '`identity` must be a non-empty string'
  if (typeof action !== 'string' || action === '') return '`action` must be a non-empty string'
  if (context !== undefined && (context === null || typeof context !== 'object' || Array.isArray(context))) return '`context` must be an object'
  return { subject: identity, resource, action, ...(context === undefined ? {} : { context: context as Record<string, unknown> }) }
}

/**
 * A `node:http` handler that answers the Qonsent service's check contract from any
 * {@link Qonsent} (the embedded one, typically): `POST /api/v1/qonsent/check` with
 * `{ resource, identity, action, context }` → `200 { allowed, reason, policy: { id }, expiresAt,
 * decision }`. Errors come back as `{ status: 'error', code, message, retryable }` with 400, 401,
 * 404, 405, 413, 500 or 503 (when the Qonsent's error is retryable). `context` is passed on as
 * the caller sent it: put the handler behind authentication (`authorize`) when callers are not
 * trusted to state facts.
 */
export function createQonsentHttpHandler(qonsent: Pick<Qonsent, 'check'>, init: QonsentHttpHandlerInit = {}): QonsentHttpHandler {
  const path = init.path ?? DEFAULT_CHECK_PATH
  const limit = init.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = request.url ?? '/'
    const query = url.indexOf('?')
    if ((query < 0 ? url : url.slice(0, query)) !== path) {
      sendError(response, 404, 'NOT_FOUND', `Nothing is served at ${url.slice(0, 256)}`)
      return
    }
    if (request.method !== 'POST') {
      sendError(response, 405, 'METHOD_NOT_ALLOWED', 'Checks are POSTed', false, { allow: 'POST' })
      return
    }
    if (init.authorize !== undefined && !(await init.authorize(request))) {
      sendError(response, 401, 'INVALID_TOKEN', 'Authentication required')
      return
    }
    let text: string
    try {
      text = await readBody(request, limit)
    } catch (err) {
      if (err instanceof BodyTooLargeError) sendError(response, 413, 'PAYLOAD_TOO_LARGE', `The body is larger than ${limit} bytes`, false, { connection: 'close' })
      else sendError(response, 400, 'VALIDATION_ERROR', 'The body could not be read')
      return
    }
    const check = parseCheck(text)
    if (typeof check === 'string') {
      sendError(response, 400, 'VALIDATION_ERROR', check)
      return
    }
    try {
      send(response, 200, decisionToWire(await qonsent.check(check)))
    } catch (err) {
      const e = err as { name?: unknown; retryable?: unknown } | null
      const code = typeof e?.name === 'string' ? e.name : 'INTERNAL_SERVER_ERROR'
      if (e?.retryable === true) sendError(response, 503, code, 'Qonsent cannot answer now', true)
      else sendError(response, 500, code, 'Qonsent failed to answer', false)
    }
  }
  return (request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) sendError(response, 500, 'INTERNAL_SERVER_ERROR', 'Qonsent failed to answer', true)
      else response.destroy()
    })
  }
}
