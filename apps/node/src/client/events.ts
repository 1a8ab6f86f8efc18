import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import WebSocket from 'ws'
import { DEFAULT_SUBSCRIBE_TIMEOUT_MS, EVENT_QUEUE_HIGH_WATER, EVENT_QUEUE_LOW_WATER, EVENTS_PATH } from './constants.js'
import { apiErrorClass, EventStreamError, NodeUnreachableError, type UnreachableReason } from './errors.js'
import type { EventFilter, QflowEventJson } from './types.js'

/** Options of a subscription. */
export interface SubscribeOptions {
  /** The subscription id sent to the node (default a random one). */
  id?: string
  /** How long connecting and subscribing may take, ms (default {@link DEFAULT_SUBSCRIBE_TIMEOUT_MS}). */
  timeoutMs?: number
  /** Closes the subscription when it fires. */
  signal?: AbortSignal
}

/**
 * A live subscription to a node's events. Iterate it for the events, in the order the node sent
 * them; the iteration ends after `close()`, and throws {@link EventStreamError} when the node
 * ends the subscription (an error, a lagging reader, a closed socket).
 */
export interface EventSubscription extends AsyncIterable<QflowEventJson> {
  /** The subscription id. */
  readonly id: string
  /** Unsubscribes and closes the socket; pending and later iterations end. */
  close(): Promise<void>
}

/** Where the event stream is: the node's base URL and the token. */
export interface EventStreamTarget {
  /** The node's base URL (as {@link normalizeApiUrl} makes it). */
  api: string
  /** The bearer token. */
  token?: string
}

interface ServerMessage {
  type?: unknown
  id?: unknown
  subscription?: unknown
  event?: unknown
  code?: unknown
  message?: unknown
  dropped?: unknown
}

function socketUrl(api: string): string {
  const url = new URL(`${api}${EVENTS_PATH}`)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  return url.toString()
}

function unreachable(url: string, err: unknown): NodeUnreachableError {
  const code = (err as { code?: unknown } | null)?.code
  const reason: UnreachableReason = code === 'ECONNREFUSED' ? 'refused' : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'not-found' : 'network'
  return new NodeUnreachableError(url, reason, `Cannot open the event stream at ${url}: ${(err as Error).message}`, { cause: err })
}

/** Reads a refused upgrade's answer and makes the typed error of its status and envelope. */
function refusedUpgrade(url: string, response: IncomingMessage): Promise<Error> {
  return new Promise((resolve) => {
    let text = ''
    response.setEncoding('utf8')
    response.on('data', (chunk: string) => {
      if (text.length < 64 * 1024) text += chunk
    })
    const finish = () => {
      const status = response.statusCode ?? 0
      let body: { error?: { code?: unknown; message?: unknown; details?: unknown }; requestId?: unknown } = {}
      try {
        body = JSON.parse(text) as typeof body
      } catch {
        // not an envelope: the status says enough
      }
      const header = response.headers['x-request-id']
      const requestId = typeof body.requestId === 'string' ? body.requestId : typeof header === 'string' ? header : undefined
      const ErrorClass = apiErrorClass(status)
      resolve(
        new ErrorClass({
          status,
          code: typeof body.error?.code === 'string' ? body.error.code : `HTTP_${status}`,
          message: typeof body.error?.message === 'string' ? body.error.message : `the event stream upgrade was refused with ${status}`,
          ...(body.error?.details === undefined ? {} : { details: body.error.details }),
          ...(requestId === undefined ? {} : { requestId }),
          method: 'GET',
          url
        })
      )
    }
    response.on('end', finish)
    response.on('error', finish)
  })
}

/**
 * Opens a node's event WebSocket (`/api/v1/ws`, bearer token on the upgrade) and subscribes with
 * `filter`; resolves once the node answered `subscribed`. The subscription holds at most
 * {@link EVENT_QUEUE_HIGH_WATER} unread events: past that it stops reading the socket, so a slow
 * reader pushes back on the node (which tells it `lagging` and drops it if it falls too far behind).
 *
 * @throws {@link NodeUnreachableError} when the socket cannot be opened, a {@link QflowApiError}
 * subclass when the upgrade is refused (401, 403), {@link EventStreamError} when the node refuses
 * the subscription or the socket closes first.
 */
export function subscribeEvents(target: EventStreamTarget, filter: EventFilter = {}, options: SubscribeOptions = {}): Promise<EventSubscription> {
  const id = options.id ?? randomUUID()
  const url = socketUrl(target.api)
  const timeoutMs = options.timeoutMs ?? DEFAULT_SUBSCRIBE_TIMEOUT_MS
  const socket = new WebSocket(url, {
    headers: target.token === undefined ? {} : { authorization: `Bearer ${target.token}` },
    handshakeTimeout: timeoutMs,
    perMessageDeflate: false
  })

  const queue: QflowEventJson[] = []
  let failure: Error | undefined
  let ended = false
  let wake: (() => void) | undefined
  let closing: Promise<void> | undefined

  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  const fail = (err: Error) => {
    if (ended || failure !== undefined) return
    failure = err
    notify()
  }

  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  const close = (): Promise<void> => {
    if (closing !== undefined) return closing
    ended = true
    notify()
    closing = (async () => {
      if (socket.readyState === WebSocket.OPEN) {
        try {
          socket.send(JSON.stringify({ type: 'unsubscribe', id }))
        } catch {
          // closing anyway
        }
        socket.close(1000, 'done')
      } else if (socket.readyState === WebSocket.CONNECTING) {
        socket.terminate()
      }
      if (socket.readyState !== WebSocket.CLOSED) {
        const timer = setTimeout(() => socket.terminate(), 2_000)
        await closed
        clearTimeout(timer)
      }
    })()
    return closing
  }

  const subscription: EventSubscription = {
    id,
    close,
    [Symbol.asyncIterator]() {
      return {
        next: async (): Promise<IteratorResult<QflowEventJson>> => {
          for (;;) {
            const event = queue.shift()
            if (event !== undefined) {
              if (socket.isPaused && queue.length <= EVENT_QUEUE_LOW_WATER) socket.resume()
              return { value: event, done: false }
            }
            if (failure !== undefined) throw failure
            if (ended) return { value: undefined, done: true }
            await new Promise<void>((resolve) => {
              wake = resolve
            })
          }
        },
        return: async (): Promise<IteratorResult<QflowEventJson>> => {
          await close()
          return { value: undefined, done: true }
        }
      }
    }
  }

  return new Promise<EventSubscription>((resolve, reject) => {
    let settled = false
    const timer = setTimeout(() => settle(new EventStreamError('TIMEOUT', `the node did not confirm the subscription within ${timeoutMs} ms`)), timeoutMs)
    const onAbort = () => {
      settle(new EventStreamError('ABORTED', 'the subscription was aborted'))
      void close()
    }
    const settle = (err?: Error) => {
      if (settled) {
        if (err !== undefined) fail(err)
        return
      }
      settled = true
      clearTimeout(timer)
      if (err === undefined) {
        resolve(subscription)
        return
      }
      options.signal?.removeEventListener('abort', onAbort)
      reject(err)
      socket.removeAllListeners('message')
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.terminate()
    }
    if (options.signal?.aborted === true) {
      onAbort()
      return
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })

    socket.on('unexpected-response', (request, response) => {
      void refusedUpgrade(url, response).then((err) => {
        request.destroy()
        settle(err)
      })
    })
    socket.on('error', (err) => settle(settled ? new EventStreamError('CLOSED', `the event stream failed: ${err.message}`) : unreachable(url, err)))
    socket.on('open', () => {
      socket.send(JSON.stringify({ type: 'subscribe', id, filter }))
    })
    socket.on('message', (raw) => {
      let message: ServerMessage
      try {
        message = JSON.parse(raw.toString()) as ServerMessage
      } catch {
        settle(new EventStreamError('PROTOCOL', 'the node sent a message that is not JSON'))
        return
      }
      switch (message.type) {
        case 'subscribed':
          if (message.id === id) settle()
          return
        case 'event':
          if (message.subscription !== id || ended) return
          queue.push(message.event as QflowEventJson)
          if (queue.length >= EVENT_QUEUE_HIGH_WATER && !socket.isPaused) socket.pause()
          notify()
          return
        case 'lagging': {
          const dropped = typeof message.dropped === 'number' ? message.dropped : undefined
          settle(new EventStreamError('LAGGING', `the node dropped this reader for falling behind${dropped === undefined ? '' : ` (${dropped} events dropped)`}`, dropped === undefined ? {} : { dropped }))
          return
        }
        case 'error':
          if (message.id !== undefined && message.id !== id) return
          settle(new EventStreamError(typeof message.code === 'string' ? message.code : 'ERROR', typeof message.message === 'string' ? message.message : 'the node refused the subscription'))
          return
        case 'unsubscribed':
          if (message.id === id && settled) {
            ended = true
            notify()
          }
          return
        default:
          return
      }
    })
    socket.on('close', (code, reason) => {
      options.signal?.removeEventListener('abort', onAbort)
      if (ended) return
      const text = reason.toString()
      settle(new EventStreamError('CLOSED', `the node closed the event stream (${code}${text === '' ? '' : `: ${text}`})`, { closeCode: code }))
    })
  })
}
