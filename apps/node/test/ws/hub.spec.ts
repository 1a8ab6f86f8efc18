import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEmbeddedQonsent, createGrant, type EmbeddedQonsent } from '@qflow/adapters-qonsent'
import { createEvent, type QflowEvent, type QflowEventData, type QflowEventName } from '@qflow/scheduler'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { WsConfigError } from '../../src/server/ws/errors.js'
import { type EventHub, type EventSink, eventHub, type Subscriber } from '../../src/server/ws/hub.js'
import type { ServerMessage } from '../../src/server/ws/protocol.js'

/** The hub's event source: events in the engine's envelope, emitted synchronously as the engine does. */
class EventSource {
  private readonly listeners = new Set<(event: QflowEvent) => void>()
  onEvent(listener: (event: QflowEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
  /** How many listeners the source has. */
  get listening(): number {
    return this.listeners.size
  }
  emit<N extends QflowEventName>(type: N, data: QflowEventData[N]): QflowEvent {
    const event = createEvent(type, data, { source: 'qflow://node', actor: 'did:key:actor' }) as QflowEvent
    for (const listener of this.listeners) listener(event)
    return event
  }
  completed(executionId: string, flowId: string): QflowEvent {
    return this.emit('q.qflow.exec.completed.v1', { executionId, flowId, status: 'completed', durationMs: 1 })
  }
  started(executionId: string, flowId: string): QflowEvent {
    return this.emit('q.qflow.exec.started.v1', { executionId, flowId, flowVersion: '1.0.0', flowHash: 'h', inputDigest: 'd' })
  }
}

/** A sink that keeps what it is handed; its `bufferedAmount` is what the test says the socket holds. */
class RecordingSink implements EventSink {
  readonly sent: Buffer[] = []
  readonly closes: { code: number; reason: string }[] = []
  bufferedAmount = 0
  send(message: Buffer): void {
    this.sent.push(message)
  }
  close(code: number, reason: string): void {
    this.closes.push({ code, reason })
  }
  messages(): ServerMessage[] {
    return this.sent.map((b) => JSON.parse(b.toString('utf8')) as ServerMessage)
  }
  events(id: string): QflowEvent[] {
    return this.messages().flatMap((m) => (m.type === 'event' && m.subscription === id ? [m.event] : []))
  }
}

/** A subscriber whose access is decided by an allow-list, counting the checks. */
function listSubscriber(allowed: readonly string[], did = 'did:key:reader'): Subscriber & { asked: string[] } {
  const asked: string[] = []
  return {
    did,
    asked,
    async authorize(resource) {
      asked.push(resource)
      return allowed.includes(resource)
    }
  }
}

const subscribe = (id: string, filter?: Record<string, unknown>) => JSON.stringify(filter === undefined ? { type: 'subscribe', id } : { type: 'subscribe', id, filter })

describe('eventHub', () => {
  let source: EventSource
  let hub: EventHub
  beforeEach(() => {
    source = new EventSource()
    hub = eventHub()({ events: source })
    hub.start()
  })
  afterEach(() => hub.stop())

  it('serialises an event once and hands the same buffer to every subscription with the same id', async () => {
    const sinks = Array.from({ length: 5 }, () => new RecordingSink())
    for (const sink of sinks) {
      const consumer = hub.connect(sink, listSubscriber(['qflow:node']))
      await consumer.receive(subscribe('all'))
    }
    const other = new RecordingSink()
    await hub.connect(other, listSubscriber(['qflow:node'])).receive(subscribe('mine'))
    const event = source.completed('e1', 'f1')
    const frames = sinks.map((sink) => sink.sent.at(-1))
    for (const frame of frames) expect(frame).toBe(frames[0])
    expect(JSON.parse(String(frames[0]))).toEqual({ type: 'event', subscription: 'all', event })
    expect(other.events('mine')).toEqual([event])
    source.started('e2', 'f1')
    expect(hub.stats()).toMatchObject({ events: 2, serialisations: 2, delivered: 12, consumers: 6, subscriptions: 6 })
  })

  it('takes the engine events only while some subscription is live', async () => {
    expect(source.listening).toBe(0)
    const sink = new RecordingSink()
    const consumer = hub.connect(sink, listSubscriber(['qflow:node', 'qflow:flow:f1']))
    await consumer.receive(subscribe('a'))
    await consumer.receive(subscribe('b', { flowId: 'f1' }))
    expect(hub.stats()).toMatchObject({ subscriptions: 2 })
    expect(source.listening).toBe(1)
    const event = source.completed('e1', 'f1')
    expect(sink.events('a')).toEqual([event])
    await consumer.receive(JSON.stringify({ type: 'unsubscribe', id: 'a' }))
    expect(source.listening).toBe(1)
    await consumer.receive(JSON.stringify({ type: 'unsubscribe', id: 'b' }))
    expect(source.listening).toBe(0)
    source.completed('e2', 'f1')
    await consumer.receive(subscribe('c'))
    expect(source.listening).toBe(1)
    const later = source.started('e3', 'f1')
    expect(sink.events('c')).toEqual([later])
    expect(hub.stats()).toMatchObject({ events: 2, subscriptions: 1 })
    hub.stop()
    expect(source.listening).toBe(0)
  })

  it('encodes a message once for every sink that writes encoded frames, and corks each sink for the turn', async () => {
    const encodings: Buffer[] = []
    const encoding = eventHub()({
      events: source,
      encode: (message) => {
        const encoded = Buffer.concat([Buffer.from('>'), message])
        encodings.push(encoded)
        return encoded
      }
    })
    encoding.start()
    const sinks = Array.from({ length: 3 }, () => {
      const sink = new RecordingSink()
      const calls: string[] = []
      const written: Buffer[] = []
      return Object.assign(sink, {
        calls,
        written,
        cork: () => calls.push('cork'),
        uncork: () => calls.push('uncork'),
        write: (encoded: Buffer) => {
          calls.push('write')
          written.push(encoded)
        }
      })
    })
    for (const sink of sinks) await encoding.connect(sink, listSubscriber(['qflow:node'])).receive(subscribe('all'))
    const first = source.started('e1', 'f')
    const second = source.completed('e1', 'f')
    for (const sink of sinks) expect(sink.calls).toEqual(['cork', 'write', 'write'])
    await new Promise((resolve) => setImmediate(resolve))
    for (const sink of sinks) {
      expect(sink.calls).toEqual(['cork', 'write', 'write', 'uncork'])
      expect(sink.written).toEqual(encodings)
      expect(sink.written[0]).toBe(sinks[0]?.written[0])
    }
    expect(encodings).toHaveLength(2)
    expect(encodings.map((e) => JSON.parse(e.subarray(1).toString('utf8')))).toEqual([
      { type: 'event', subscription: 'all', event: first },
      { type: 'event', subscription: 'all', event: second }
    ])
    encoding.stop()
  })

  it('does not serialise an event no subscription wants', async () => {
    await hub.connect(new RecordingSink(), listSubscriber(['qflow:flow:f1'])).receive(subscribe('f1', { flowId: 'f1' }))
    source.completed('e1', 'other')
    expect(hub.stats()).toMatchObject({ events: 1, serialisations: 0, delivered: 0 })
  })

  it('filters by event name, flow and execution', async () => {
    const sink = new RecordingSink()
    const consumer = hub.connect(sink, listSubscriber(['qflow:node', 'qflow:flow:f1', 'qflow:execution:e2']))
    await consumer.receive(subscribe('ends', { events: ['q.qflow.exec.completed.v1'] }))
    await consumer.receive(subscribe('f1', { flowId: 'f1' }))
    await consumer.receive(subscribe('e2', { executionId: 'e2' }))
    await consumer.receive(subscribe('f1-e2', { flowId: 'f1', executionId: 'e2' }))
    const a = source.started('e1', 'f1')
    const b = source.completed('e1', 'f1')
    const c = source.started('e2', 'f2')
    const d = source.completed('e2', 'f2')
    const e = source.emit('q.qflow.validation.pipeline.executed.v1', { traceId: 't', kind: 'exec.step', resource: 'qflow:flow:f1', outcome: 'passed', stages: [] })
    expect(sink.events('ends')).toEqual([b, d])
    expect(sink.events('f1')).toEqual([a, b, e])
    expect(sink.events('e2')).toEqual([c, d])
    expect(sink.events('f1-e2')).toEqual([])
  })

  it('authorizes a subscription once, on the execution, the flow, or the node', async () => {
    const subscriber = listSubscriber(['qflow:node', 'qflow:flow:f1', 'qflow:execution:e1'])
    const sink = new RecordingSink()
    const consumer = hub.connect(sink, subscriber)
    await consumer.receive(subscribe('all'))
    await consumer.receive(subscribe('flow', { flowId: 'f1' }))
    await consumer.receive(subscribe('both', { flowId: 'f1', executionId: 'e1' }))
    for (let i = 0; i < 50; i++) source.completed('e1', 'f1')
    expect(subscriber.asked).toEqual(['qflow:node', 'qflow:flow:f1', 'qflow:execution:e1', 'qflow:flow:f1'])
    expect(sink.events('all')).toHaveLength(50)
    expect(sink.events('both')).toHaveLength(50)
  })

  it('refuses a subscription the caller may not read, and one that cannot be decided', async () => {
    const sink = new RecordingSink()
    const consumer = hub.connect(sink, {
      did: 'did:key:x',
      async authorize(resource) {
        if (resource === 'qflow:flow:broken') throw new Error('qonsent unreachable')
        return resource === 'qflow:flow:mine'
      }
    })
    await consumer.receive(subscribe('other', { flowId: 'theirs' }))
    await consumer.receive(subscribe('node'))
    await consumer.receive(subscribe('broken', { flowId: 'broken' }))
    await consumer.receive(subscribe('both', { flowId: 'mine', executionId: 'theirs' }))
    source.completed('theirs', 'theirs')
    source.completed('theirs', 'mine')
    expect(sink.messages()).toEqual([
      { type: 'error', code: 'FORBIDDEN', id: 'other', message: 'Not allowed to read qflow:flow:theirs' },
      { type: 'error', code: 'FORBIDDEN', id: 'node', message: 'Not allowed to read qflow:node' },
      { type: 'error', code: 'INTERNAL', id: 'broken', message: 'The subscription could not be authorized; try again' },
      { type: 'error', code: 'FORBIDDEN', id: 'both', message: 'Not allowed to read qflow:execution:theirs and qflow:flow:mine' }
    ])
    expect(consumer.subscriptions).toBe(0)
    expect(hub.stats()).toMatchObject({ subscriptions: 0, pending: 0, delivered: 0 })
  })

  it('answers unsubscribe, conflicts, unknown ids and the subscription limit', async () => {
    const limited = eventHub({ maxSubscriptions: 2 })({ events: source })
    limited.start()
    const sink = new RecordingSink()
    const consumer = limited.connect(sink, listSubscriber(['qflow:node']))
    await consumer.receive(subscribe('a'))
    await consumer.receive(subscribe('a'))
    await consumer.receive(subscribe('b'))
    await consumer.receive(subscribe('c'))
    await consumer.receive('{"type":"unsubscribe","id":"a"}')
    await consumer.receive('{"type":"unsubscribe","id":"a"}')
    await consumer.receive(subscribe('c'))
    await consumer.receive('not json')
    const event = source.completed('e', 'f')
    expect(sink.messages()).toEqual([
      { type: 'subscribed', id: 'a' },
      { type: 'error', code: 'CONFLICT', id: 'a', message: 'A subscription "a" already exists on this socket' },
      { type: 'subscribed', id: 'b' },
      { type: 'error', code: 'TOO_MANY_SUBSCRIPTIONS', id: 'c', message: 'A socket may hold at most 2 subscriptions' },
      { type: 'unsubscribed', id: 'a' },
      { type: 'error', code: 'NOT_FOUND', id: 'a', message: 'No subscription "a" on this socket' },
      { type: 'subscribed', id: 'c' },
      { type: 'error', code: 'VALIDATION_FAILED', message: 'The message is not JSON' },
      { type: 'event', subscription: 'b', event },
      { type: 'event', subscription: 'c', event }
    ])
    limited.stop()
  })

  it('forgets a subscription unsubscribed while its authorization was pending', async () => {
    let release!: (allowed: boolean) => void
    const sink = new RecordingSink()
    const consumer = hub.connect(sink, { did: 'did:key:x', authorize: () => new Promise((resolve) => (release = resolve)) })
    const subscribing = consumer.receive(subscribe('slow'))
    expect(hub.stats().pending).toBe(1)
    await consumer.receive('{"type":"unsubscribe","id":"slow"}')
    release(true)
    await subscribing
    source.completed('e', 'f')
    expect(sink.messages()).toEqual([{ type: 'unsubscribed', id: 'slow' }])
    expect(hub.stats()).toMatchObject({ subscriptions: 0, pending: 0 })
  })

  it('drops a consumer whose sink passes the bound: it is told it lags, closed with 1013, and gets nothing more', async () => {
    const bounded = eventHub({ maxBufferedBytes: 4096 })({ events: source })
    bounded.start()
    const slow = new RecordingSink()
    const fast = new RecordingSink()
    const slowConsumer = bounded.connect(slow, listSubscriber(['qflow:node']))
    await slowConsumer.receive(subscribe('all'))
    await bounded.connect(fast, listSubscriber(['qflow:node'])).receive(subscribe('all'))
    source.completed('e1', 'f')
    slow.bufferedAmount = 4000
    source.completed('e2', 'f')
    source.completed('e3', 'f')
    expect(slow.messages().map((m) => m.type)).toEqual(['subscribed', 'event', 'lagging'])
    expect(slow.messages().at(-1)).toEqual({ type: 'lagging', dropped: 1 })
    expect(slow.closes).toEqual([{ code: 1013, reason: 'consumer lagging' }])
    expect(slowConsumer.closed).toBe(true)
    expect(fast.events('all').map((e) => (e.data as { executionId: string }).executionId)).toEqual(['e1', 'e2', 'e3'])
    expect(bounded.stats()).toMatchObject({ consumers: 1, subscriptions: 1, lagging: 1, dropped: 1 })
    // a message to a dropped consumer is ignored
    await slowConsumer.receive(subscribe('again'))
    expect(slow.messages()).toHaveLength(3)
    bounded.stop()
  })

  it('lets one event through an empty sink even when it is larger than the bound', async () => {
    const tiny = eventHub({ maxBufferedBytes: 16 })({ events: source })
    tiny.start()
    const sink = new RecordingSink()
    await tiny.connect(sink, listSubscriber(['qflow:node'])).receive(subscribe('all'))
    source.completed('e1', 'f')
    expect(sink.events('all')).toHaveLength(1)
    tiny.stop()
  })

  it('drops a consumer that sends requests without reading the answers', async () => {
    const bounded = eventHub({ maxBufferedBytes: 1024 })({ events: source })
    bounded.start()
    const sink = new RecordingSink()
    const consumer = bounded.connect(sink, listSubscriber([]))
    sink.bufferedAmount = 1000
    await consumer.receive('garbage')
    expect(sink.messages()).toEqual([{ type: 'lagging', dropped: 0 }])
    expect(sink.closes).toEqual([{ code: 1013, reason: 'consumer lagging' }])
    expect(consumer.closed).toBe(true)
    bounded.stop()
  })

  it('closes every consumer with 1001 when stopped, and one connected afterwards at once', async () => {
    const sink = new RecordingSink()
    await hub.connect(sink, listSubscriber(['qflow:node'])).receive(subscribe('all'))
    hub.stop()
    expect(sink.closes).toEqual([{ code: 1001, reason: 'node stopping' }])
    source.completed('e', 'f')
    expect(sink.events('all')).toEqual([])
    const late = new RecordingSink()
    expect(hub.connect(late, listSubscriber([])).closed).toBe(true)
    expect(late.closes).toEqual([{ code: 1001, reason: 'node stopping' }])
    expect(hub.stats()).toMatchObject({ consumers: 0, subscriptions: 0 })
  })

  it('refuses unusable bounds', () => {
    expect(() => eventHub({ maxBufferedBytes: 0 })({ events: source })).toThrow(WsConfigError)
    expect(() => eventHub({ maxSubscriptions: 1.5 })({ events: source })).toThrow(expect.objectContaining({ name: 'WsConfigError', option: 'maxSubscriptions' }))
  })
})

describe('eventHub with Qonsent', () => {
  let dir: string
  let qonsent: EmbeddedQonsent
  const ADMIN = 'did:key:admin'
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qflow-ws-hub-'))
    qonsent = await createEmbeddedQonsent({ dataDir: dir, authorities: [ADMIN] })
  })
  afterEach(async () => {
    await qonsent.stop()
    await rm(dir, { recursive: true, force: true })
  })

  const reader = (did: string): Subscriber => ({ did, authorize: async (resource, action) => (await qonsent.check({ subject: did, resource, action })).allowed })

  it('ends the subscriptions whose read access is revoked, and only those', async () => {
    const source = new EventSource()
    const hub = eventHub()({ events: source, consents: qonsent })
    hub.start()
    const flowGrant = await qonsent.grant(createGrant({ subject: 'did:key:r', resource: 'qflow:flow:f1', actions: ['read'], grantedBy: ADMIN }))
    const otherGrant = await qonsent.grant(createGrant({ subject: 'did:key:r', resource: 'qflow:flow:f2', actions: ['read'], grantedBy: ADMIN }))
    const sink = new RecordingSink()
    const consumer = hub.connect(sink, reader('did:key:r'))
    await consumer.receive(subscribe('f1', { flowId: 'f1' }))
    await consumer.receive(subscribe('f2', { flowId: 'f2' }))
    const before = source.completed('e1', 'f1')
    await qonsent.revoke(flowGrant.id, ADMIN, 'no longer on the team')
    // the re-check is asynchronous (a consent decision); wait until it has been answered
    for (let i = 0; i < 100 && !sink.messages().some((m) => m.type === 'unsubscribed'); i++) await new Promise((r) => setImmediate(r))
    source.completed('e2', 'f1')
    const other = source.completed('e3', 'f2')
    expect(sink.events('f1')).toEqual([before])
    expect(sink.events('f2')).toEqual([other])
    expect(sink.messages().filter((m) => m.type === 'error' || m.type === 'unsubscribed')).toEqual([
      { type: 'error', code: 'FORBIDDEN', id: 'f1', message: 'Read access to qflow:flow:f1 was withdrawn' },
      { type: 'unsubscribed', id: 'f1' }
    ])
    expect(hub.stats()).toMatchObject({ subscriptions: 1, revoked: 1 })
    expect(otherGrant.id).not.toBe(flowGrant.id)
    hub.stop()
  })

  it('ends a subscription when a deny rule covering it is added', async () => {
    const source = new EventSource()
    const hub = eventHub()({ events: source, consents: qonsent })
    hub.start()
    await qonsent.grant(createGrant({ subject: 'did:key:r', resource: 'qflow:**', actions: ['read'], grantedBy: ADMIN }))
    const sink = new RecordingSink()
    const consumer = hub.connect(sink, reader('did:key:r'))
    await consumer.receive(subscribe('all'))
    await consumer.receive(subscribe('f1', { flowId: 'f1' }))
    expect(consumer.subscriptions).toBe(2)
    await qonsent.grant(createGrant({ subject: 'did:key:r', resource: 'qflow:node', actions: ['read'], effect: 'deny', grantedBy: ADMIN }))
    for (let i = 0; i < 100 && consumer.subscriptions !== 1; i++) await new Promise((r) => setImmediate(r))
    expect(consumer.subscriptions).toBe(1)
    expect(sink.messages().at(-1)).toEqual({ type: 'unsubscribed', id: 'all' })
    hub.stop()
  })
})
