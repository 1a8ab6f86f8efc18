/**
 * Why an envelope did not open:
 * - `authentication-failed`: the AEAD tag did not verify. The ciphertext, nonce, key id,
 *   algorithm or (sealed) recipient table was altered, or the envelope was made for another binding
 *   (subnet, execution, step, purpose) than the one given, or under another key.
 * - `key-subnet-mismatch`: the envelope names a key of another subnet than the binding's.
 * - `key-agreement-failed`: the recipient identity's X25519 agreement failed or gave a low-order
 *   (all-zero) secret, which a tampered ephemeral key can cause.
 */
export type DecryptionFailureReason = 'authentication-failed' | 'key-subnet-mismatch' | 'key-agreement-failed'

/**
 * Thrown when an envelope does not open: see {@link DecryptionFailureReason}. No plaintext, not
 * even part of it, is ever returned with or before this error.
 */
export class DecryptionError extends Error {
  static override readonly name = 'DecryptionError'
  override readonly name = 'DecryptionError'
  /** Why it did not open. */
  readonly reason: DecryptionFailureReason
  /** The key id the envelope names, for subnet-key envelopes. */
  readonly kid: string | undefined

  constructor(reason: DecryptionFailureReason, options: { kid?: string | undefined; cause?: unknown; message?: string } = {}) {
    super(
      options.message ?? `Envelope does not open: ${reason}`,
      options.cause === undefined ? undefined : { cause: options.cause }
    )
    this.reason = reason
    this.kid = options.kid
  }
}

/** Thrown when a key id is not in the keyring (never created here, or from another keyring). */
export class UnknownKeyError extends Error {
  static override readonly name = 'UnknownKeyError'
  override readonly name = 'UnknownKeyError'
  /** The key id asked for. */
  readonly kid: string

  constructor(kid: string) {
    super(`No key ${JSON.stringify(kid)} in the keyring`)
    this.kid = kid
  }
}

/** Thrown when a key's material was destroyed: data under it can no longer be opened, by design. */
export class KeyDestroyedError extends Error {
  static override readonly name = 'KeyDestroyedError'
  override readonly name = 'KeyDestroyedError'
  /** The destroyed key's id. */
  readonly kid: string
  /** When it was destroyed, ms since the epoch. */
  readonly destroyedAt: number | undefined

  constructor(kid: string, destroyedAt?: number) {
    super(`Key ${JSON.stringify(kid)} was destroyed; data encrypted under it cannot be opened`)
    this.kid = kid
    this.destroyedAt = destroyedAt
  }
}

/** Thrown when an identity opens a sealed envelope that lists no entry for it. */
export class NotARecipientError extends Error {
  static override readonly name = 'NotARecipientError'
  override readonly name = 'NotARecipientError'
  /** The identity that tried to open it. */
  readonly did: string

  constructor(did: string) {
    super(`${did} is not a recipient of this sealed envelope`)
    this.did = did
  }
}

/**
 * Thrown when an envelope (encoded bytes, JSON text or an object handed to decrypt/open) is not
 * well formed: truncated, trailing bytes, wrong magic, unknown version or algorithm, a field of the
 * wrong type or length, duplicate recipients.
 */
export class EnvelopeFormatError extends Error {
  static override readonly name = 'EnvelopeFormatError'
  override readonly name = 'EnvelopeFormatError'
  /** The offending field, as a JSON-pointer-like path (`/recipients/1/wrappedKey`); `''` for the whole. */
  readonly field: string
  /** Byte offset in encoded input where parsing stopped, for binary input. */
  readonly offset: number | undefined

  constructor(message = 'Malformed envelope', field = '', offset?: number) {
    super(`${message}${field === '' ? '' : ` (at ${field})`}${offset === undefined ? '' : ` (offset ${offset})`}`)
    this.field = field
    this.offset = offset
  }
}

/**
 * Thrown when an {@link EncryptionBinding} is unusable: `subnet` missing or empty, a field that is
 * not a string, or a string with a lone UTF-16 surrogate (which would not encode unambiguously).
 */
export class InvalidBindingError extends Error {
  static override readonly name = 'InvalidBindingError'
  override readonly name = 'InvalidBindingError'
  /** The binding field at fault (`subnet`, `executionId`, `stepId`, `purpose`), or `''` for the whole. */
  readonly field: string

  constructor(message: string, field = '') {
    super(field === '' ? message : `${message} (binding.${field})`)
    this.field = field
  }
}

/** Thrown when an argument other than a binding or an envelope is unusable (wrong type, empty, too long). */
export class InvalidArgumentError extends Error {
  static override readonly name = 'InvalidArgumentError'
  override readonly name = 'InvalidArgumentError'
  /** The argument at fault. */
  readonly argument: string

  constructor(message: string, argument: string) {
    super(`${message} (${argument})`)
    this.argument = argument
  }
}

/**
 * Thrown when sealing to an identity whose X25519 public key is unusable: not 32 bytes, or a
 * low-order point that would give an all-zero shared secret.
 */
export class RecipientKeyError extends Error {
  static override readonly name = 'RecipientKeyError'
  override readonly name = 'RecipientKeyError'
  /** The recipient identity. */
  readonly did: string

  constructor(did: string, message = 'unusable X25519 public key', cause?: unknown) {
    super(`Recipient ${did}: ${message}`, cause === undefined ? undefined : { cause })
    this.did = did
  }
}

/** Thrown at construction when a required component is not given. */
export class MissingComponentError extends Error {
  static override readonly name = 'MissingComponentError'
  override readonly name = 'MissingComponentError'
  /** The component that is missing. */
  readonly component: string

  constructor(component: string, of: string) {
    super(`${of} needs the ${component} component`)
    this.component = component
  }
}

/**
 * Thrown when a keyring file is not a keyring file this package reads: wrong magic, unknown
 * version, truncated, trailing bytes, or (once opened) contents that break the keyring's rules
 * (duplicate key ids, two active keys for one subnet, bad lengths).
 */
export class KeyringFormatError extends Error {
  static override readonly name = 'KeyringFormatError'
  override readonly name = 'KeyringFormatError'
  /** The file. */
  readonly path: string | undefined
  /** Byte offset where parsing stopped. */
  readonly offset: number | undefined

  constructor(message = 'Malformed keyring file', options: { path?: string | undefined; offset?: number | undefined } = {}) {
    super(
      `${message}${options.offset === undefined ? '' : ` (offset ${options.offset})`}${options.path === undefined ? '' : ` in ${options.path}`}`
    )
    this.path = options.path
    this.offset = options.offset
  }
}

/**
 * Thrown when a keyring file does not open under the master key derived from this node secret:
 * the secret is not the one the file was written with, or the file was altered.
 */
export class KeyringDecryptionError extends Error {
  static override readonly name = 'KeyringDecryptionError'
  override readonly name = 'KeyringDecryptionError'
  /** The file. */
  readonly path: string | undefined

  constructor(path?: string) {
    super(`Keyring file does not open under this node secret (wrong secret, or the file was altered)${path === undefined ? '' : `: ${path}`}`)
    this.path = path
  }
}
