import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { type RawData, WebSocket, WebSocketServer } from 'ws'
import { DEFAULT_WS_CLOSE_GRACE_MS, DEFAULT_WS_HEARTBEAT_INTERVAL_MS, DEFAULT_WS_MAX_CONNECTIONS, DEFAULT_WS_MAX_MESSAGE_BYTES, WS_CLOSE_CODES } from './constants.js'
import { WsConfigError } from './errors.js'
import { type EventConsumer, type EventHub, type EventHubComponents, type EventHubInit, type EventHubStats, type EventSink, eventHub, type Subscriber } from './hub.js'

/** Options of {@link wsGateway}; all optional. */
export interface WsGatewayInit extends EventHubInit {
  /** Largest message a client may send, bytes; a larger one closes the socket with 1009. Default 16 KiB. */
  maxMessageBytes?: number
  /** Most sockets open at once; an upgrade beyond it gets 503. Default 10,000. */
  maxConnections?: number
  /** Time between pings, ms; a peer that did not answer the previous one is dropped. Default 30 s. */
  heartbeatIntervalMs?: number
  /** Time a closing socket has to complete the closing handshake before it is destroyed, ms. Default 2 s. */
  closeGraceMs?: number
}

/** A caller whose token checked out, with what the socket needs to know of it. */
export interface AuthenticatedSubscriber extends Subscriber {
  /** When the token expires, ms since the epoch; the socket is closed with 1008 at the first heartbeat after it. */
  readonly expiresAt?: number
  /**
   * Whether the token has been revoked since it was checked; asked at every heartbeat and on
   * {@link WsGateway.revalidate}. A revoked one's socket is closed with 1008.
   */
  revoked?(): boolean
}

/** Counters of the gateway. */
export interface WsGatewayStats {
  /** Open sockets. */
  readonly connections: number
  /** Bytes queued on open sockets and not yet written out. */
  readonly bufferedBytes: number
  /** Upgrades refused because `maxConnections` sockets were open. */
  readonly overCapacity: number
  /** Sockets dropped for not answering a ping. */
  readonly heartbeatDrops: number
  /** Sockets closed because their token expired. */
  readonly expired: number
  /** Sockets closed because their token was revoked. */
  readonly revoked: number
  /** The hub's counters. */
  readonly hub: EventHubStats
}

/** Serves the event hub over `ws`: sockets, heartbeat, limits, the closing handshake. */
export interface WsGateway {
  /** The hub it serves. */
  readonly hub: EventHub
  /** Starts the hub and the heartbeat. */
  start(): void
  /** Whether one more socket may open now (started, fewer than `maxConnections` open); a refusal is counted. */
  admits(): boolean
  /** Completes the upgrade of an authenticated request (see {@link WsGateway.admits}) and serves the hub on the socket. */
  accept(request: IncomingMessage, socket: Duplex, head: Buffer, subscriber: AuthenticatedSubscriber): void
  /** Checks every open socket's token now (expiry, revocation), closing those that no longer hold with 1008. */
  revalidate(): void
  /** Stops taking sockets, closes every socket with 1001 (destroying those that do not answer within the grace time) and stops the hub. */
  stop(): Promise<void>
  /** Counters. */
  stats(): WsGatewayStats
}

interface Connection {
  readonly ws: WebSocket
  readonly consumer: EventConsumer
  readonly expiresAt: number | undefined
  readonly revoked: (() => boolean) | undefined
  alive: boolean
  grace: NodeJS.Timeout | undefined
  readonly closed: Promise<void>
}

function positiveInteger(value: number | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value <= 0) throw new WsConfigError(option, `${option} must be a positive integer, not ${String(value)}`)
  return value
}

/**
 * A final, unmasked WebSocket text frame (RFC 6455 section 5.2) around `payload`: what a server
 * sends. An event's frame is made once and written to every socket it goes to.
 */
export function textFrame(payload: Buffer): Buffer {
  const length = payload.length
  const header = length < 126 ? 2 : length < 0x10000 ? 4 : 10
  const frame = Buffer.allocUnsafe(header + length)
  frame[0] = 0x81 // FIN, opcode 1 (text)
  if (length < 126) {
    frame[1] = length
  } else if (length < 0x10000) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2)
    frame.writeUInt32BE(length >>> 0, 6)
  }
  payload.copy(frame, header)
  return frame
}

function bytesOf(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data)
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data
}

class WebSocketGateway implements WsGateway {
  readonly hub: EventHub
  private readonly maxConnections: number
  private readonly heartbeatIntervalMs: number
  private readonly closeGraceMs: number
  private readonly wss: WebSocketServer
  private readonly open = new Set<Connection>()
  private heartbeat: NodeJS.Timeout | undefined
  private running = false
  private counters = { overCapacity: 0, heartbeatDrops: 0, expired: 0, revoked: 0 }

  constructor(init: WsGatewayInit, components: EventHubComponents) {
    this.maxConnections = positiveInteger(init.maxConnections, DEFAULT_WS_MAX_CONNECTIONS, 'maxConnections')
    this.heartbeatIntervalMs = positiveInteger(init.heartbeatIntervalMs, DEFAULT_WS_HEARTBEAT_INTERVAL_MS, 'heartbeatIntervalMs')
    this.closeGraceMs = positiveInteger(init.closeGraceMs, DEFAULT_WS_CLOSE_GRACE_MS, 'closeGraceMs')
    const maxPayload = positiveInteger(init.maxMessageBytes, DEFAULT_WS_MAX_MESSAGE_BYTES, 'maxMessageBytes')
    const hubInit: EventHubInit = {}
    if (init.maxSubscriptions !== undefined) hubInit.maxSubscriptions = init.maxSubscriptions
    if (init.maxBufferedBytes !== undefined) hubInit.maxBufferedBytes = init.maxBufferedBytes
    this.hub = eventHub(hubInit)({ ...components, encode: textFrame })
    // No compression: one message buffer is shared by every subscriber and written as it is.
    this.wss = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false, clientTracking: false })
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.hub.start()
    this.heartbeat = setInterval(() => this.beat(), this.heartbeatIntervalMs)
    this.heartbeat.unref()
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    clearInterval(this.heartbeat)
    this.heartbeat = undefined
    const closing = [...this.open].map((connection) => connection.closed)
    // The hub closes every consumer's socket with 1001, through its sink; sockets already
    // closing finish on their own grace timer.
    this.hub.stop()
    await Promise.all(closing)
  }

  admits(): boolean {
    if (this.running && this.open.size < this.maxConnections) return true
    this.counters.overCapacity++
    return false
  }

  stats(): WsGatewayStats {
    let bufferedBytes = 0
    for (const connection of this.open) bufferedBytes += connection.ws.bufferedAmount
    return { connections: this.open.size, bufferedBytes, ...this.counters, hub: this.hub.stats() }
  }

  accept(request: IncomingMessage, socket: Duplex, head: Buffer, subscriber: AuthenticatedSubscriber): void {
    this.wss.handleUpgrade(request, socket, head, (ws) => this.serve(ws, socket, subscriber))
  }

  private serve(ws: WebSocket, socket: Duplex, subscriber: AuthenticatedSubscriber): void {
    let closedResolve!: () => void
    const closed = new Promise<void>((resolve) => {
      closedResolve = resolve
    })
    const sink: EventSink = {
      get bufferedAmount() {
        return ws.bufferedAmount
      },
      send: (message) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(message, { binary: false })
      },
      close: (code, reason) => this.close(connection, code, reason),
      // The events of one turn leave in one write (`ws` writes each message as it is sent).
      cork: () => socket.cork(),
      uncork: () => socket.uncork(),
      // An event's frame, made once, goes straight to the socket. `ws` writes every frame it
      // sends synchronously (no compression is negotiated), so the order on the wire is the
      // order of the calls, and `bufferedAmount` counts these bytes too.
      write: (frame) => {
        if (ws.readyState === WebSocket.OPEN) socket.write(frame)
      }
    }
    const connection: Connection = {
      ws,
      expiresAt: subscriber.expiresAt,
      revoked: subscriber.revoked === undefined ? undefined : () => subscriber.revoked?.() === true,
      alive: true,
      grace: undefined,
      closed,
      consumer: this.hub.connect(sink, subscriber)
    }
    this.open.add(connection)
    ws.on('message', (data) => {
      void connection.consumer.receive(bytesOf(data))
    })
    ws.on('pong', () => {
      connection.alive = true
    })
    // `ws` closes the socket itself on a protocol error (1002) or an oversized message (1009).
    ws.on('error', () => undefined)
    ws.on('close', () => {
      clearTimeout(connection.grace)
      connection.consumer.disconnect()
      this.open.delete(connection)
      closedResolve()
    })
    if (!this.running) this.close(connection, WS_CLOSE_CODES.goingAway, 'node stopping')
  }

  /** Starts the closing handshake; a peer that does not complete it within the grace time is cut off. */
  private close(connection: Connection, code: number, reason: string): void {
    const { ws } = connection
    if (ws.readyState === WebSocket.CLOSED || connection.grace !== undefined) return
    ws.close(code, reason)
    connection.grace = setTimeout(() => ws.terminate(), this.closeGraceMs)
    connection.grace.unref()
  }

  revalidate(): void {
    const now = Date.now()
    for (const connection of this.open) if (connection.ws.readyState === WebSocket.OPEN) this.stillValid(connection, now)
  }

  /** Closes the socket with 1008 when its token has expired or been revoked; answers whether it holds. */
  private stillValid(connection: Connection, now: number): boolean {
    const reason = connection.expiresAt !== undefined && connection.expiresAt <= now ? 'expired' : connection.revoked?.() === true ? 'revoked' : undefined
    if (reason === undefined) return true
    this.counters[reason]++
    connection.consumer.disconnect()
    this.close(connection, WS_CLOSE_CODES.policyViolation, `token ${reason}`)
    return false
  }

  private beat(): void {
    const now = Date.now()
    for (const connection of this.open) {
      const { ws } = connection
      if (ws.readyState !== WebSocket.OPEN) continue
      if (!connection.alive) {
        this.counters.heartbeatDrops++
        connection.consumer.disconnect()
        ws.terminate()
        continue
      }
      if (!this.stillValid(connection, now)) continue
      connection.alive = false
      ws.ping()
    }
  }
}

/**
 * Serves the {@link EventHub} over `ws`, as a component factory: `wsGateway(init)({ events, consents })`.
 * Whoever owns the HTTP server authenticates an upgrade and hands it to `accept`. Call `start()`.
 *
 * @throws {@link WsConfigError} when an option is not a positive integer.
 */
export function wsGateway(init: WsGatewayInit = {}): (components: EventHubComponents) => WsGateway {
  return (components) => new WebSocketGateway(init, components)
}
