import { CONSENT_EXPIRED_EVENT, CONSENT_REVOKED_EVENT, type ConsentChange, changeAffects, type EmbeddedQonsent } from '@qflow/adapters-qonsent'
import type { Engine, QflowEvent } from '@qflow/scheduler'
import { DEFAULT_WS_MAX_BUFFERED_BYTES, DEFAULT_WS_MAX_SUBSCRIPTIONS, WS_NODE_RESOURCE, WS_CLOSE_CODES } from './constants.js'
import { type InvalidWsMessageError, WsConfigError } from './errors.js'
import {
  type ErrorMessage,
  encodeServerMessage,
  eventFrame,
  eventFramePrefix,
  eventScope,
  parseClientMessage,
  type SubscribeMessage,
  type SubscriptionFilter,
  type WsErrorCode
} from './protocol.js'

/** Options of {@link eventHub}; all optional. */
export interface EventHubInit {
  /** Most subscriptions (live and awaiting authorization) one consumer may hold. Default 32. */
  maxSubscriptions?: number
  /**
   * Bytes a consumer's sink may hold unsent; an event that would take it past this bound is
   * dropped, the consumer is told `{type:'lagging', dropped}` and closed with 1013. Default 1 MiB.
   */
  maxBufferedBytes?: number
}

/** What the hub is given. */
export interface EventHubComponents {
  /** Where events come from: the engine's `q.qflow.*.v1` events. */
  events: Pick<Engine, 'onEvent'>
  /**
   * Consent changes: when a grant is revoked or expires, or a deny rule is added, the
   * subscriptions it concerns are authorized again and ended if no longer allowed. Optional.
   */
  consents?: Pick<EmbeddedQonsent, 'subscribe'>
  /**
   * Encodes a message for the wire (a WebSocket text frame), once for every sink that takes
   * encoded messages ({@link EventSink.write}). Optional.
   */
  encode?: (message: Buffer) => Buffer
}

/** Who holds a consumer, and how their access is decided (once per subscription). */
export interface Subscriber {
  /** The caller's identity. */
  readonly did: string
  /** Resolves true when the caller may do `action` on `resource`, false when refused; rejects when it cannot be decided. */
  authorize(resource: string, action: 'read'): Promise<boolean>
}

/** Where a consumer's messages go: a socket, seen through what the hub needs of it. */
export interface EventSink {
  /** Bytes accepted by {@link EventSink.send} and not yet written out. */
  readonly bufferedAmount: number
  /** Queues one text message. The same buffer may be handed to many sinks: it must not be changed. */
  send(message: Buffer): void
  /** Closes the connection with a WebSocket close code. */
  close(code: number, reason: string): void
  /**
   * Holds writes back until {@link EventSink.uncork} (optional): the hub corks a sink before the
   * first event it sends it in a turn of the event loop and uncorks it at the end of the turn, so
   * the events of one turn leave in one write.
   */
  cork?(): void
  /** Writes out what was held back since {@link EventSink.cork}. */
  uncork?(): void
  /**
   * Writes a message already encoded for the wire by the hub's `encode` (optional; used when both
   * are there): the encoding is done once per message, not once per sink.
   */
  write?(encoded: Buffer): void
}

/** One connection's end of the hub. */
export interface EventConsumer {
  /** The caller. */
  readonly did: string
  /** Whether it no longer receives anything (disconnected, dropped or the hub stopped). */
  readonly closed: boolean
  /** Live subscriptions. */
  readonly subscriptions: number
  /** Handles a client message; resolves once it is answered (authorization included). Never rejects. */
  receive(message: string | Uint8Array): Promise<void>
  /** The connection ended: forgets every subscription. */
  disconnect(): void
}

/** Counters of the hub, since it was made. */
export interface EventHubStats {
  /** Connected consumers. */
  readonly consumers: number
  /** Live subscriptions. */
  readonly subscriptions: number
  /** Subscriptions awaiting their authorization. */
  readonly pending: number
  /** Events received from the source (the hub takes them only while a subscription is live). */
  readonly events: number
  /** Events serialised (at most one per event, only for events some subscription matched). */
  readonly serialisations: number
  /** `event` messages handed to sinks. */
  readonly delivered: number
  /** Bytes of `event` messages handed to sinks. */
  readonly deliveredBytes: number
  /** Consumers dropped for lagging. */
  readonly lagging: number
  /** Events not sent to dropped consumers. */
  readonly dropped: number
  /** Subscriptions ended because the caller's read access was withdrawn. */
  readonly revoked: number
  /** Highest `bufferedAmount` seen on a sink right after a send, bytes. */
  readonly peakBufferedBytes: number
}

/** The fan-out of engine events to subscribers: subscriptions, filters, authorization and backpressure. */
export interface EventHub {
  /** Subscribes to the event source (and consent changes). */
  start(): void
  /** Unsubscribes and closes every consumer with 1001. */
  stop(): void
  /**
   * Adds a consumer for `sink`, acting as `subscriber`.
   *
   * @throws {@link WsConfigError} never; a consumer added after `stop()` starts closed.
   */
  connect(sink: EventSink, subscriber: Subscriber): EventConsumer
  /** Counters. */
  stats(): EventHubStats
}

type SubscriptionState = 'pending' | 'live'

interface Subscription {
  readonly id: string
  readonly consumer: HubConsumer
  readonly names: ReadonlySet<string> | undefined
  readonly flowId: string | undefined
  readonly executionId: string | undefined
  /** What it was authorized on (`read`). */
  readonly resources: readonly string[]
  readonly prefix: Buffer
  state: SubscriptionState
}

function positiveInteger(value: number | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value <= 0) throw new WsConfigError(option, `${option} must be a positive integer, not ${String(value)}`)
  return value
}

/** The resources a filter needs `read` on: the execution, the flow, or the whole node when it names neither. */
export function subscriptionResources(filter: SubscriptionFilter): string[] {
  const resources: string[] = []
  if (filter.executionId !== undefined) resources.push(`qflow:execution:${filter.executionId}`)
  if (filter.flowId !== undefined) resources.push(`qflow:flow:${filter.flowId}`)
  if (resources.length === 0) resources.push(WS_NODE_RESOURCE)
  return resources
}

class HubConsumer implements EventConsumer {
  readonly did: string
  closed = false
  /** Whether the sink holds writes back until the end of this turn. */
  corked = false
  readonly subs = new Map<string, Subscription>()

  constructor(
    private readonly hub: SubscriptionHub,
    readonly sink: EventSink,
    readonly subscriber: Subscriber
  ) {
    this.did = subscriber.did
  }

  get subscriptions(): number {
    let live = 0
    for (const sub of this.subs.values()) if (sub.state === 'live') live++
    return live
  }

  async receive(data: string | Uint8Array): Promise<void> {
    if (this.closed) return
    let message: ReturnType<typeof parseClientMessage>
    try {
      message = parseClientMessage(data)
    } catch (err) {
      const e = err as InvalidWsMessageError
      this.error(e.code, e.message, e.id)
      return
    }
    if (message.type === 'unsubscribe') {
      const sub = this.subs.get(message.id)
      if (sub === undefined) {
        this.error('NOT_FOUND', `No subscription ${JSON.stringify(message.id)} on this socket`, message.id)
        return
      }
      this.hub.remove(sub)
      this.send({ type: 'unsubscribed', id: message.id })
      return
    }
    await this.subscribe(message)
  }

  private async subscribe(message: SubscribeMessage): Promise<void> {
    const { id } = message
    if (this.subs.has(id)) {
      this.error('CONFLICT', `A subscription ${JSON.stringify(id)} already exists on this socket`, id)
      return
    }
    if (this.subs.size >= this.hub.maxSubscriptions) {
      this.error('TOO_MANY_SUBSCRIPTIONS', `A socket may hold at most ${this.hub.maxSubscriptions} subscriptions`, id)
      return
    }
    const filter = message.filter ?? {}
    const sub: Subscription = {
      id,
      consumer: this,
      names: filter.events === undefined ? undefined : new Set(filter.events),
      flowId: filter.flowId,
      executionId: filter.executionId,
      resources: subscriptionResources(filter),
      prefix: eventFramePrefix(id),
      state: 'pending'
    }
    this.subs.set(id, sub)
    let allowed: boolean
    try {
      allowed = await this.authorize(sub.resources)
    } catch {
      if (this.subs.get(id) !== sub) return
      this.subs.delete(id)
      this.error('INTERNAL', 'The subscription could not be authorized; try again', id)
      return
    }
    // Unsubscribed, disconnected or dropped while the decision was made.
    if (this.closed || this.subs.get(id) !== sub) return
    if (!allowed) {
      this.subs.delete(id)
      this.error('FORBIDDEN', `Not allowed to read ${sub.resources.join(' and ')}`, id)
      return
    }
    this.hub.activate(sub)
    this.send({ type: 'subscribed', id })
  }

  async authorize(resources: readonly string[]): Promise<boolean> {
    const decisions = await Promise.all(resources.map((resource) => this.subscriber.authorize(resource, 'read')))
    return decisions.every((allowed) => allowed)
  }

  /** Hands an event message to the sink, or drops the consumer when its sink holds too much. */
  deliver(outgoing: Outgoing): void {
    const { encode } = this.hub
    const write = encode === undefined ? undefined : this.sink.write
    let frame = outgoing.message
    if (encode !== undefined && write !== undefined) {
      outgoing.encoded ??= encode(outgoing.message)
      frame = outgoing.encoded
    }
    const buffered = this.sink.bufferedAmount
    if (buffered > 0 && buffered + frame.length > this.hub.maxBufferedBytes) {
      this.lag(1)
      return
    }
    if (!this.corked && this.sink.cork !== undefined) {
      this.sink.cork()
      this.corked = true
      this.hub.corkedUntilNextTurn(this)
    }
    if (write === undefined) this.sink.send(frame)
    else write.call(this.sink, frame)
    this.hub.sent(frame.length, this.sink.bufferedAmount)
  }

  /** Writes out what was held back this turn. */
  uncork(): void {
    if (!this.corked) return
    this.corked = false
    this.sink.uncork?.()
  }

  private lag(dropped: number): void {
    // The event at hand is the one not sent; every later one is never matched (the
    // subscriptions are gone), so nothing more is held for this consumer.
    this.hub.dropped(dropped)
    this.end()
    this.send({ type: 'lagging', dropped })
    this.sink.close(WS_CLOSE_CODES.tryAgainLater, 'consumer lagging')
  }

  /** Re-decides a subscription after a consent change; ends it when its access is gone. */
  async recheck(sub: Subscription): Promise<void> {
    let allowed: boolean
    try {
      allowed = await this.authorize(sub.resources)
    } catch {
      // Undecidable now: keep what was decided at subscription time.
      return
    }
    if (allowed || this.closed || this.subs.get(sub.id) !== sub) return
    this.hub.remove(sub)
    this.hub.revokedOne()
    this.error('FORBIDDEN', `Read access to ${sub.resources.join(' and ')} was withdrawn`, sub.id)
    this.send({ type: 'unsubscribed', id: sub.id })
  }

  disconnect(): void {
    this.end()
  }

  /** Stops receiving: forgets every subscription and leaves the hub. */
  end(): void {
    if (this.closed) return
    this.closed = true
    for (const sub of this.subs.values()) this.hub.unindex(sub)
    this.subs.clear()
    this.hub.leave(this)
  }

  /** Sends a reply; a consumer that does not read its replies either is dropped like a lagging one. */
  send(message: Parameters<typeof encodeServerMessage>[0]): void {
    const frame = encodeServerMessage(message)
    const buffered = this.sink.bufferedAmount
    if (message.type !== 'lagging' && buffered > 0 && buffered + frame.length > this.hub.maxBufferedBytes) {
      if (!this.closed) this.lag(0)
      return
    }
    this.sink.send(frame)
  }

  private error(code: WsErrorCode, message: string, id: string | undefined): void {
    const frame: ErrorMessage = id === undefined ? { type: 'error', code, message } : { type: 'error', code, message, id }
    this.send(frame)
  }
}

class SubscriptionHub implements EventHub {
  readonly maxSubscriptions: number
  readonly maxBufferedBytes: number
  readonly encode: ((message: Buffer) => Buffer) | undefined
  private readonly consumers = new Set<HubConsumer>()
  /** Live subscriptions with neither a flow nor an execution. */
  private readonly unscoped = new Set<Subscription>()
  /** Live subscriptions naming a flow and no execution, by flow. */
  private readonly byFlow = new Map<string, Set<Subscription>>()
  /** Live subscriptions naming an execution, by execution. */
  private readonly byExecution = new Map<string, Set<Subscription>>()
  private live = 0
  /** Consumers corked this turn of the event loop. */
  private readonly corked: HubConsumer[] = []
  /**
   * Unsubscribes from the engine's events. The hub takes them only while it is started and some
   * subscription is live: the engine builds no event nobody takes.
   */
  private offEvents: (() => void) | undefined
  private started = false
  private offConsents: (() => void) | undefined
  private stopped = false
  private counters = { events: 0, serialisations: 0, delivered: 0, deliveredBytes: 0, lagging: 0, dropped: 0, revoked: 0, peakBufferedBytes: 0 }

  constructor(
    init: EventHubInit,
    private readonly components: EventHubComponents
  ) {
    this.maxSubscriptions = positiveInteger(init.maxSubscriptions, DEFAULT_WS_MAX_SUBSCRIPTIONS, 'maxSubscriptions')
    this.maxBufferedBytes = positiveInteger(init.maxBufferedBytes, DEFAULT_WS_MAX_BUFFERED_BYTES, 'maxBufferedBytes')
    this.encode = components.encode
  }

  start(): void {
    if (this.started) return
    this.started = true
    this.stopped = false
    this.offConsents = this.components.consents?.subscribe((change) => this.consentChanged(change))
    this.listen()
  }

  stop(): void {
    this.stopped = true
    this.started = false
    this.listen()
    this.offConsents?.()
    this.offConsents = undefined
    for (const consumer of [...this.consumers]) {
      consumer.end()
      consumer.sink.close(WS_CLOSE_CODES.goingAway, 'node stopping')
    }
  }

  connect(sink: EventSink, subscriber: Subscriber): EventConsumer {
    const consumer = new HubConsumer(this, sink, subscriber)
    if (this.stopped) {
      consumer.closed = true
      sink.close(WS_CLOSE_CODES.goingAway, 'node stopping')
      return consumer
    }
    this.consumers.add(consumer)
    return consumer
  }

  stats(): EventHubStats {
    let pending = 0
    for (const consumer of this.consumers) for (const sub of consumer.subs.values()) if (sub.state === 'pending') pending++
    return { consumers: this.consumers.size, subscriptions: this.live, pending, ...this.counters }
  }

  // ---- bookkeeping the consumers call -------------------------------------------------------

  activate(sub: Subscription): void {
    sub.state = 'live'
    this.live++
    if (sub.executionId !== undefined) addTo(this.byExecution, sub.executionId, sub)
    else if (sub.flowId !== undefined) addTo(this.byFlow, sub.flowId, sub)
    else this.unscoped.add(sub)
    if (this.live === 1) this.listen()
  }

  /** Takes the engine's events while started with a live subscription, and only then. */
  private listen(): void {
    const wanted = this.started && this.live > 0
    if (wanted && this.offEvents === undefined) this.offEvents = this.components.events.onEvent((event) => this.publish(event))
    else if (!wanted && this.offEvents !== undefined) {
      this.offEvents()
      this.offEvents = undefined
    }
  }

  remove(sub: Subscription): void {
    sub.consumer.subs.delete(sub.id)
    this.unindex(sub)
  }

  unindex(sub: Subscription): void {
    if (sub.state !== 'live') return
    sub.state = 'pending'
    this.live--
    if (sub.executionId !== undefined) deleteFrom(this.byExecution, sub.executionId, sub)
    else if (sub.flowId !== undefined) deleteFrom(this.byFlow, sub.flowId, sub)
    else this.unscoped.delete(sub)
    if (this.live === 0) this.listen()
  }

  leave(consumer: HubConsumer): void {
    this.consumers.delete(consumer)
  }

  sent(bytes: number, buffered: number): void {
    this.counters.delivered++
    this.counters.deliveredBytes += bytes
    if (buffered > this.counters.peakBufferedBytes) this.counters.peakBufferedBytes = buffered
  }

  dropped(events: number): void {
    this.counters.lagging++
    this.counters.dropped += events
  }

  revokedOne(): void {
    this.counters.revoked++
  }

  corkedUntilNextTurn(consumer: HubConsumer): void {
    this.corked.push(consumer)
    if (this.corked.length === 1) setImmediate(this.uncorkAll)
  }

  private readonly uncorkAll = (): void => {
    for (const consumer of this.corked.splice(0)) consumer.uncork()
  }

  // ---- fan-out ------------------------------------------------------------------------------

  private publish(event: QflowEvent): void {
    this.counters.events++
    const { flowId, executionId } = eventScope(event)
    const fanOut = new FanOut(event, this.counters)
    fanOut.visit(this.unscoped, flowId, executionId)
    if (flowId !== undefined) fanOut.visit(this.byFlow.get(flowId), flowId, executionId)
    if (executionId !== undefined) fanOut.visit(this.byExecution.get(executionId), flowId, executionId)
  }

  private consentChanged(change: ConsentChange): void {
    const withdrawing = change.type === CONSENT_REVOKED_EVENT || change.type === CONSENT_EXPIRED_EVENT || change.grant.effect === 'deny'
    if (!withdrawing) return
    for (const consumer of this.consumers) {
      for (const sub of consumer.subs.values()) {
        if (sub.state !== 'live') continue
        if (sub.resources.some((resource) => changeAffects(change, { subject: consumer.did, resource, action: 'read' }))) void consumer.recheck(sub)
      }
    }
  }
}

/** One `event` message, and its wire encoding once a sink needed it. */
interface Outgoing {
  readonly message: Buffer
  encoded: Buffer | undefined
}

/** One event on its way out: serialised at most once, one message buffer per subscription id. */
class FanOut {
  private body: Buffer | undefined
  private readonly frames = new Map<string, Outgoing>()

  constructor(
    private readonly event: QflowEvent,
    private readonly counters: { serialisations: number }
  ) {}

  visit(subs: ReadonlySet<Subscription> | undefined, flowId: string | undefined, executionId: string | undefined): void {
    if (subs === undefined) return
    // A consumer dropped during the walk deletes its subscriptions from this set; a Set skips
    // deleted entries it has not reached yet.
    for (const sub of subs) {
      if (sub.names !== undefined && !sub.names.has(this.event.type)) continue
      if (sub.flowId !== undefined && sub.flowId !== flowId) continue
      if (sub.executionId !== undefined && sub.executionId !== executionId) continue
      sub.consumer.deliver(this.frameFor(sub))
    }
  }

  private frameFor(sub: Subscription): Outgoing {
    const cached = this.frames.get(sub.id)
    if (cached !== undefined) return cached
    if (this.body === undefined) {
      this.body = Buffer.from(JSON.stringify(this.event), 'utf8')
      this.counters.serialisations++
    }
    const outgoing: Outgoing = { message: eventFrame(sub.prefix, this.body), encoded: undefined }
    this.frames.set(sub.id, outgoing)
    return outgoing
  }
}

function addTo(map: Map<string, Set<Subscription>>, key: string, sub: Subscription): void {
  let set = map.get(key)
  if (set === undefined) {
    set = new Set()
    map.set(key, set)
  }
  set.add(sub)
}

function deleteFrom(map: Map<string, Set<Subscription>>, key: string, sub: Subscription): void {
  const set = map.get(key)
  if (set === undefined) return
  set.delete(sub)
  if (set.size === 0) map.delete(key)
}

/**
 * The event hub, as a component factory: `eventHub(init)({ events, consents })`. Each event is
 * serialised once and the same message buffer (encoded once for the wire when `encode` is given)
 * goes to every subscription with the same id; sinks that can are corked for the rest of the turn
 * of the event loop, so a turn's events leave in one write. A consumer whose sink holds more than
 * `maxBufferedBytes` is told it lags and closed with 1013, so nothing piles up for it. Call `start()`.
 *
 * @throws {@link WsConfigError} when an option is not a positive integer.
 */
export function eventHub(init: EventHubInit = {}): (components: EventHubComponents) => EventHub {
  return (components) => new SubscriptionHub(init, components)
}
