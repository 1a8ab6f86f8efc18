import { hkdfSync } from 'node:crypto'

/**
 * HKDF-SHA-256 (RFC 5869): `length` bytes derived from input keying material `ikm` with `salt`
 * and `info`. An empty salt stands for 32 zero bytes, as the RFC says.
 */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array | string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length))
}
