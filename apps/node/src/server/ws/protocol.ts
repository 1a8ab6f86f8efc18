import { QFLOW_EVENTS, type QflowEvent, type QflowEventName } from '@qflow/scheduler'
import { MAX_FILTER_ID_LENGTH, MAX_SUBSCRIPTION_ID_LENGTH } from './constants.js'
import { InvalidWsMessageError } from './errors.js'

/** Which events a subscription receives; every field narrows it, none means every event. */
export interface SubscriptionFilter {
  /** Event names (`q.qflow.exec.completed.v1`, …); absent means every name. */
  readonly events?: readonly QflowEventName[]
  /** Only events of this flow (its executions' events, and the pipeline runs on it). */
  readonly flowId?: string
  /** Only events of this execution. */
  readonly executionId?: string
}

/** Client → server: start receiving the events `filter` selects, tagged with `id`. */
export interface SubscribeMessage {
  readonly type: 'subscribe'
  /** The client's name for the subscription, unique on the socket (1-128 characters). */
  readonly id: string
  /** Which events; absent means every event the caller may read. */
  readonly filter?: SubscriptionFilter
}

/** Client → server: stop the subscription `id`. */
export interface UnsubscribeMessage {
  readonly type: 'unsubscribe'
  readonly id: string
}

/** What a client may send. */
export type ClientMessage = SubscribeMessage | UnsubscribeMessage

/** The `code` of an `error` message. */
export type WsErrorCode = 'VALIDATION_FAILED' | 'FORBIDDEN' | 'CONFLICT' | 'NOT_FOUND' | 'TOO_MANY_SUBSCRIPTIONS' | 'INTERNAL'

/** Server → client: one event, for the subscription it matched. */
export interface EventMessage {
  readonly type: 'event'
  /** The subscription's id. */
  readonly subscription: string
  /** The event in its envelope `{eventId, timestamp, type, version, source, actor, data}`. */
  readonly event: QflowEvent
}

/** Server → client: the subscription is authorized and live; its events follow. */
export interface SubscribedMessage {
  readonly type: 'subscribed'
  readonly id: string
}

/** Server → client: the subscription ended (asked for, or its read access was withdrawn). */
export interface UnsubscribedMessage {
  readonly type: 'unsubscribed'
  readonly id: string
}

/** Server → client: a message was refused; `id` names the subscription it concerned, when any. */
export interface ErrorMessage {
  readonly type: 'error'
  readonly code: WsErrorCode
  readonly message: string
  readonly id?: string
}

/** Server → client: the consumer fell behind; `dropped` events were not sent, and the socket closes with 1013. */
export interface LaggingMessage {
  readonly type: 'lagging'
  readonly dropped: number
}

/** What the server sends. */
export type ServerMessage = EventMessage | SubscribedMessage | UnsubscribedMessage | ErrorMessage | LaggingMessage

const EVENT_NAMES: ReadonlySet<string> = new Set(QFLOW_EVENTS)
const SUBSCRIBE_KEYS = new Set(['type', 'id', 'filter'])
const UNSUBSCRIBE_KEYS = new Set(['type', 'id'])
const FILTER_KEYS = new Set(['events', 'flowId', 'executionId'])

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function checkKeys(value: Record<string, unknown>, allowed: ReadonlySet<string>, where: string, id: string | undefined): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) throw new InvalidWsMessageError(`${where} has an unknown field ${JSON.stringify(key.slice(0, 64))}`, id)
  }
}

function filterId(value: unknown, field: string, id: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value === '' || value.length > MAX_FILTER_ID_LENGTH) {
    throw new InvalidWsMessageError(`filter.${field} must be a string of 1-${MAX_FILTER_ID_LENGTH} characters`, id)
  }
  return value
}

function parseFilter(value: unknown, id: string): SubscriptionFilter {
  if (value === undefined) return {}
  if (!isObject(value)) throw new InvalidWsMessageError('filter must be an object', id)
  checkKeys(value, FILTER_KEYS, 'filter', id)
  const filter: { events?: QflowEventName[]; flowId?: string; executionId?: string } = {}
  if (value.events !== undefined) {
    const events = value.events
    if (!Array.isArray(events) || events.length === 0) throw new InvalidWsMessageError('filter.events must be a non-empty array of event names (omit it for every event)', id)
    for (const name of events) {
      if (typeof name !== 'string' || !EVENT_NAMES.has(name)) {
        throw new InvalidWsMessageError(`filter.events holds ${JSON.stringify(typeof name === 'string' ? name.slice(0, 80) : name)}, which is none of ${QFLOW_EVENTS.join(', ')}`, id)
      }
    }
    filter.events = [...new Set(events as QflowEventName[])]
  }
  const flowId = filterId(value.flowId, 'flowId', id)
  if (flowId !== undefined) filter.flowId = flowId
  const executionId = filterId(value.executionId, 'executionId', id)
  if (executionId !== undefined) filter.executionId = executionId
  return filter
}

/**
 * Parses and checks one client message (a `subscribe` or an `unsubscribe`).
 *
 * @throws {@link InvalidWsMessageError} saying what is wrong, with the message's `id` when it had one.
 */
export function parseClientMessage(data: string | Uint8Array): ClientMessage {
  let value: unknown
  try {
    value = JSON.parse(typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'))
  } catch {
    throw new InvalidWsMessageError('The message is not JSON')
  }
  if (!isObject(value)) throw new InvalidWsMessageError('The message is not a JSON object')
  const rawId = value.id
  const id = typeof rawId === 'string' && rawId !== '' && rawId.length <= MAX_SUBSCRIPTION_ID_LENGTH ? rawId : undefined
  if (value.type !== 'subscribe' && value.type !== 'unsubscribe') {
    throw new InvalidWsMessageError(`type must be "subscribe" or "unsubscribe", not ${JSON.stringify(value.type)?.slice(0, 64) ?? 'absent'}`, id)
  }
  if (id === undefined) throw new InvalidWsMessageError(`id must be a string of 1-${MAX_SUBSCRIPTION_ID_LENGTH} characters`)
  if (value.type === 'unsubscribe') {
    checkKeys(value, UNSUBSCRIBE_KEYS, 'unsubscribe', id)
    return { type: 'unsubscribe', id }
  }
  checkKeys(value, SUBSCRIBE_KEYS, 'subscribe', id)
  return { type: 'subscribe', id, filter: parseFilter(value.filter, id) }
}

/** Serialises a server message other than an `event` (those are framed by {@link eventFrame}). */
export function encodeServerMessage(message: Exclude<ServerMessage, EventMessage>): Buffer {
  return Buffer.from(JSON.stringify(message), 'utf8')
}

const EVENT_SUFFIX = Buffer.from('}', 'utf8')

/** The bytes every `event` message of subscription `id` starts with, up to the event itself. */
export function eventFramePrefix(id: string): Buffer {
  return Buffer.from(`{"type":"event","subscription":${JSON.stringify(id)},"event":`, 'utf8')
}

/**
 * An `event` message from the subscription's prefix ({@link eventFramePrefix}) and the event
 * already serialised: the event is never serialised again per subscriber.
 */
export function eventFrame(prefix: Buffer, serialisedEvent: Buffer): Buffer {
  return Buffer.concat([prefix, serialisedEvent, EVENT_SUFFIX], prefix.length + serialisedEvent.length + 1)
}

/** The flow and execution an event concerns, read from its data (a pipeline event names its resource). */
export function eventScope(event: QflowEvent): { readonly flowId: string | undefined; readonly executionId: string | undefined } {
  const data = event.data as { flowId?: unknown; executionId?: unknown; resource?: unknown }
  let flowId = typeof data.flowId === 'string' ? data.flowId : undefined
  if (flowId === undefined && typeof data.resource === 'string' && data.resource.startsWith('qflow:flow:')) flowId = data.resource.slice('qflow:flow:'.length)
  return { flowId, executionId: typeof data.executionId === 'string' ? data.executionId : undefined }
}
