import { MalformedWebhookHeaderError } from './errors.js'

/**
 * Request headers as a framework hands them over: Node's `IncomingHttpHeaders` (lower-case
 * names, arrays for repeated headers), any plain record (names matched case-insensitively), or a
 * fetch `Headers`.
 */
export type WebhookHeaders = Readonly<Record<string, string | readonly string[] | undefined>> | { get(name: string): string | null }

/** A request body: the raw bytes as received, or a string (encoded as UTF-8). */
export type WebhookPayload = Uint8Array | string

const encoder = new TextEncoder()

/** The body as bytes. */
export function payloadBytes(payload: WebhookPayload): Uint8Array {
  return typeof payload === 'string' ? encoder.encode(payload) : payload
}

function isFetchHeaders(headers: WebhookHeaders): headers is { get(name: string): string | null } {
  return typeof (headers as { get?: unknown }).get === 'function'
}

/** A header's values (empty when absent), whatever the headers' shape and the name's case. */
export function headerValues(headers: WebhookHeaders, name: string): readonly string[] {
  const lower = name.toLowerCase()
  if (isFetchHeaders(headers)) {
    const value = headers.get(lower)
    return value === null ? [] : [value]
  }
  let value = headers[lower]
  if (value === undefined) {
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === lower) {
        value = headers[key]
        break
      }
    }
  }
  if (value === undefined) return []
  return typeof value === 'string' ? [value] : value
}

/**
 * A header's single value, or undefined when absent.
 *
 * @throws {@link MalformedWebhookHeaderError} when it is given more than once.
 */
export function headerValue(headers: WebhookHeaders, name: string): string | undefined {
  const values = headerValues(headers, name)
  if (values.length > 1) throw new MalformedWebhookHeaderError(name.toLowerCase(), 'given more than once')
  return values[0]
}

/** The media type of a `content-type` value, lower-case and without parameters. */
export function mediaType(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined
  const type = contentType.split(';', 1)[0]?.trim().toLowerCase()
  return type === '' ? undefined : type
}

/** Whether a media type is JSON (`application/json` or any `+json` suffix). */
export function isJsonMediaType(type: string | undefined): boolean {
  return type !== undefined && (type === 'application/json' || type.endsWith('+json'))
}
