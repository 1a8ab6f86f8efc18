const BASE64URL = /^[A-Za-z0-9_-]*$/

/** Encodes bytes as unpadded base64url. */
export function toBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

/**
 * Decodes unpadded base64url strictly: only the base64url alphabet, no padding, and (unless
 * `canonical` is false) the canonical encoding with zero unused trailing bits, so one byte string
 * has one text form. Returns `undefined` for anything else.
 */
export function fromBase64url(text: string, canonical = true): Uint8Array | undefined {
  if (text.length % 4 === 1 || !BASE64URL.test(text)) return undefined
  const bytes = Buffer.from(text, 'base64url')
  // Trailing bits must be zero: re-encoding gives back the same text only then.
  if (canonical && text.length % 4 !== 0 && bytes.toString('base64url') !== text) return undefined
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** Whether two byte strings are equal (not constant-time; for public data). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

/** Bytes as lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}
