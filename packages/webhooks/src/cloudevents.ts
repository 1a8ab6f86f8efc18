import { CLOUDEVENTS_BATCH_TYPE, CLOUDEVENTS_HEADER_PREFIX, CLOUDEVENTS_JSON_TYPE, CLOUDEVENTS_SPEC_VERSION } from './constants.js'
import { InvalidCloudEventError } from './errors.js'
import { headerValue, isJsonMediaType, mediaType, payloadBytes, type WebhookHeaders, type WebhookPayload } from './headers.js'

/** An extension attribute's value (CloudEvents types as JSON carries them). */
export type CloudEventExtensionValue = string | number | boolean

/**
 * A CloudEvent 1.0 in its JSON (structured) form: the context attributes, and the data as `data`
 * (JSON or text) or `data_base64` (binary).
 */
export interface CloudEvent {
  /** Always `1.0`. */
  readonly specversion: '1.0'
  /** Identifies the event; `source` + `id` is unique per distinct event. */
  readonly id: string
  /** URI-reference of the context in which the event happened. */
  readonly source: string
  /** The kind of event, e.g. `com.github.pull_request.opened`. */
  readonly type: string
  /** Media type of `data`. */
  readonly datacontenttype?: string
  /** URI of the schema `data` adheres to. */
  readonly dataschema?: string
  /** The subject of the event in the context of the source. */
  readonly subject?: string
  /** When the occurrence happened (RFC 3339). */
  readonly time?: string
  /** The event payload (JSON value, or text for a non-JSON media type). */
  readonly data?: unknown
  /** The event payload when binary, base64. */
  readonly data_base64?: string
  /** Extension attributes. */
  readonly [extension: string]: unknown
}

/** How a request carries a CloudEvent. */
export type CloudEventMode = 'structured' | 'binary' | 'batch'

const REQUIRED = ['id', 'source', 'specversion', 'type'] as const
const OPTIONAL_STRINGS = ['datacontenttype', 'dataschema', 'subject', 'time'] as const
const ATTRIBUTE_NAME = /^[a-z0-9]+$/
// RFC 3339 date-time (section 5.6).
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S*$/
const decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * How a request carries a CloudEvent, or undefined when it carries none: `structured` for an
 * `application/cloudevents+json` body, `batch` for `application/cloudevents-batch+json`,
 * `binary` when a `ce-specversion` header is present.
 */
export function cloudEventMode(headers: WebhookHeaders): CloudEventMode | undefined {
  const type = mediaType(headerValue(headers, 'content-type'))
  if (type === CLOUDEVENTS_JSON_TYPE) return 'structured'
  if (type === CLOUDEVENTS_BATCH_TYPE) return 'batch'
  if (headerValue(headers, `${CLOUDEVENTS_HEADER_PREFIX}specversion`) !== undefined) return 'binary'
  return undefined
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Checks a value is a CloudEvent 1.0 in JSON form and returns it, with `null` attributes
 * dropped (the JSON format treats them as absent).
 *
 * @throws {@link InvalidCloudEventError} naming the attribute at fault.
 */
export function validateCloudEvent(value: unknown): CloudEvent {
  if (!isPlainObject(value)) throw new InvalidCloudEventError('the event must be a JSON object')
  const event: Record<string, unknown> = {}
  for (const [name, attribute] of Object.entries(value)) if (attribute !== null) event[name] = attribute
  for (const name of REQUIRED) {
    const attribute = event[name]
    if (attribute === undefined) throw new InvalidCloudEventError('is required', name)
    if (typeof attribute !== 'string' || attribute === '') throw new InvalidCloudEventError('must be a non-empty string', name)
  }
  if (event.specversion !== CLOUDEVENTS_SPEC_VERSION) throw new InvalidCloudEventError(`must be ${CLOUDEVENTS_SPEC_VERSION}, not ${String(event.specversion)}`, 'specversion')
  for (const name of OPTIONAL_STRINGS) {
    const attribute = event[name]
    if (attribute !== undefined && (typeof attribute !== 'string' || attribute === '')) throw new InvalidCloudEventError('must be a non-empty string', name)
  }
  if (typeof event.time === 'string' && (!RFC3339.test(event.time) || Number.isNaN(Date.parse(event.time)))) throw new InvalidCloudEventError('must be an RFC 3339 timestamp', 'time')
  if (typeof event.dataschema === 'string' && !ABSOLUTE_URI.test(event.dataschema)) throw new InvalidCloudEventError('must be an absolute URI', 'dataschema')
  if (event.data !== undefined && event.data_base64 !== undefined) throw new InvalidCloudEventError('data and data_base64 are mutually exclusive', 'data_base64')
  if (event.data_base64 !== undefined && (typeof event.data_base64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(event.data_base64))) {
    throw new InvalidCloudEventError('must be a base64 string', 'data_base64')
  }
  for (const [name, attribute] of Object.entries(event)) {
    if (name === 'data' || name === 'data_base64') continue
    if (!ATTRIBUTE_NAME.test(name)) throw new InvalidCloudEventError('attribute names are lower-case ASCII letters and digits', name)
    const type = typeof attribute
    if (type !== 'string' && type !== 'boolean' && !(type === 'number' && Number.isInteger(attribute))) {
      throw new InvalidCloudEventError('must be a string, a boolean or an integer', name)
    }
  }
  return event as unknown as CloudEvent
}

function percentDecode(value: string, name: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    throw new InvalidCloudEventError('is not a valid percent-encoded header value', name)
  }
}

function textOf(body: Uint8Array, what: string): string {
  try {
    return decoder.decode(body)
  } catch {
    throw new InvalidCloudEventError(`the ${what} is not UTF-8`)
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new InvalidCloudEventError(`the ${what} is not JSON (${(err as Error).message})`)
  }
}

function headerEntries(headers: WebhookHeaders): [string, string][] {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    const entries = (headers as { entries?: () => IterableIterator<[string, string]> }).entries
    if (typeof entries !== 'function') throw new InvalidCloudEventError('binary mode needs iterable headers')
    return [...entries.call(headers)]
  }
  const out: [string, string][] = []
  for (const [name, value] of Object.entries(headers as Readonly<Record<string, string | readonly string[] | undefined>>)) {
    if (value === undefined || !name.toLowerCase().startsWith(CLOUDEVENTS_HEADER_PREFIX)) continue
    if (typeof value !== 'string') throw new InvalidCloudEventError('is given more than once', name.toLowerCase().slice(CLOUDEVENTS_HEADER_PREFIX.length))
    out.push([name, value])
  }
  return out
}

function binaryEvent(headers: WebhookHeaders, body: Uint8Array): Record<string, unknown> {
  const event: Record<string, unknown> = {}
  for (const [rawName, value] of headerEntries(headers)) {
    const name = rawName.toLowerCase()
    if (!name.startsWith(CLOUDEVENTS_HEADER_PREFIX)) continue
    const attribute = name.slice(CLOUDEVENTS_HEADER_PREFIX.length)
    // Binary mode carries every attribute as a string; `datacontenttype` travels as Content-Type.
    if (attribute === 'datacontenttype') throw new InvalidCloudEventError('travels as Content-Type in binary mode, not ce-datacontenttype', attribute)
    event[attribute] = percentDecode(value, attribute)
  }
  const contentType = headerValue(headers, 'content-type')
  if (contentType !== undefined) event.datacontenttype = contentType
  if (body.length > 0) {
    const type = mediaType(contentType)
    if (type === undefined || isJsonMediaType(type)) event.data = parseJson(textOf(body, 'data'), 'data')
    else if (type.startsWith('text/') || type === 'application/xml') event.data = textOf(body, 'data')
    else event.data_base64 = Buffer.from(body).toString('base64')
  }
  return event
}

/**
 * Reads the CloudEvent a request carries, in structured mode (an `application/cloudevents+json`
 * body) or binary mode (`ce-*` headers, the body as `data`), validated; undefined when the
 * request carries no CloudEvent. Binary mode's data is parsed as JSON when the content type is
 * JSON (or absent), kept as text for `text/*`, and base64 in `data_base64` otherwise, so both
 * modes give the same structured form.
 *
 * @throws {@link InvalidCloudEventError} for a malformed event, a body that is not JSON, or a batch.
 */
export function parseCloudEvent(headers: WebhookHeaders, payload: WebhookPayload): CloudEvent | undefined {
  const mode = cloudEventMode(headers)
  if (mode === undefined) return undefined
  if (mode === 'batch') throw new InvalidCloudEventError('batched mode is not accepted: send one event per request')
  const body = payloadBytes(payload)
  if (mode === 'structured') return validateCloudEvent(parseJson(textOf(body, 'body'), 'body'))
  return validateCloudEvent(binaryEvent(headers, body))
}
