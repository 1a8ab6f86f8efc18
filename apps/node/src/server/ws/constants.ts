/** Path of the WebSocket endpoint (the upgrade request's path). */
export const WS_PATH = '/api/v1/ws'

/** Most subscriptions (live and awaiting authorization) one socket may hold. */
export const DEFAULT_WS_MAX_SUBSCRIPTIONS = 32

/** Bytes a socket may have waiting to be written before its consumer counts as lagging (1 MiB). */
export const DEFAULT_WS_MAX_BUFFERED_BYTES = 1024 * 1024

/** Largest message a client may send, bytes (16 KiB); a larger one closes the socket with 1009. */
export const DEFAULT_WS_MAX_MESSAGE_BYTES = 16 * 1024

/** Most sockets open at once; an upgrade beyond it is refused with 503. */
export const DEFAULT_WS_MAX_CONNECTIONS = 10_000

/** Time between heartbeat pings, ms; a peer that has not answered the previous ping is dropped. */
export const DEFAULT_WS_HEARTBEAT_INTERVAL_MS = 30_000

/** Time a closing socket has to finish the closing handshake before it is destroyed, ms. */
export const DEFAULT_WS_CLOSE_GRACE_MS = 2_000

/** Longest subscription id, characters. */
export const MAX_SUBSCRIPTION_ID_LENGTH = 128

/** Longest flow or execution id a filter may name, characters. */
export const MAX_FILTER_ID_LENGTH = 512

/** Query parameter that may carry the token (browsers cannot set headers on an upgrade). */
export const TOKEN_QUERY_PARAMETER = 'token'

/** Close codes the endpoint uses (RFC 6455 and the IANA registry). */
export const WS_CLOSE_CODES = {
  /** The node is shutting down. */
  goingAway: 1001,
  /** The token expired, or the peer broke the protocol. */
  policyViolation: 1008,
  /** A message was larger than the limit. */
  messageTooBig: 1009,
  /** The consumer fell behind (see the `lagging` message). */
  tryAgainLater: 1013
} as const

/** Resource an unfiltered subscription (neither `flowId` nor `executionId`) needs `read` on. */
export const WS_NODE_RESOURCE = 'qflow:node'
