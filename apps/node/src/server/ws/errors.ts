import type { WsErrorCode } from './protocol.js'

/**
 * Thrown when a WebSocket option has an unusable value (a bound that is not a positive integer),
 * at construction, before anything listens.
 */
export class WsConfigError extends Error {
  static override readonly name = 'WsConfigError'
  override readonly name = 'WsConfigError'
  /** The option at fault. */
  readonly option: string

  constructor(option: string, message = `The WebSocket option ${option} has an unusable value`) {
    super(message)
    this.option = option
  }
}

/**
 * Thrown when a client's message is not one the protocol knows: not JSON, not an object, an
 * unknown `type`, a missing or malformed `id`, or a bad filter. The endpoint answers it with an
 * `error` message carrying {@link InvalidWsMessageError.code}; the socket stays open.
 */
export class InvalidWsMessageError extends Error {
  static override readonly name = 'InvalidWsMessageError'
  override readonly name = 'InvalidWsMessageError'
  /** The error code sent to the client. */
  readonly code: WsErrorCode
  /** The message's `id`, when it had a usable one. */
  readonly id: string | undefined

  constructor(message = 'The message is not a valid subscribe or unsubscribe message', id?: string, code: WsErrorCode = 'VALIDATION_FAILED') {
    super(message)
    this.code = code
    this.id = id
  }
}
