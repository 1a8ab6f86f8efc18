import { createHash } from 'node:crypto'
import { canonicalBytes, canonicalize } from '@qflow/canonical-json'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { JSON_CODEC, SHA2_256 } from './constants.js'
import type { Flow } from './types.js'

/** A flow minus its `signature`: what is hashed and signed. */
function unsigned(flow: Flow): Omit<Flow, 'signature'> {
  if (!Object.hasOwn(flow, 'signature')) return flow
  const { signature: _signature, ...rest } = flow
  return rest
}

/**
 * The canonical bytes of a flow: RFC 8785 (JCS) UTF-8 of the flow without its `signature` member.
 * The same flow gives the same bytes whatever its source format, key order or whitespace.
 *
 * @throws CanonicalizationError (from `@qflow/canonical-json`) when the flow holds values JSON cannot.
 */
export function flowCanonicalBytes(flow: Flow): Uint8Array {
  return canonicalBytes(unsigned(flow))
}

function cidOfBytes(bytes: Uint8Array): CID {
  const digest = createHash('sha256').update(bytes).digest()
  return CID.createV1(JSON_CODEC, Digest.create(SHA2_256, new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)))
}

/** The CID of a flow (CIDv1, codec json 0x0200, sha2-256 of {@link flowCanonicalBytes}). */
export function flowCid(flow: Flow): CID {
  return cidOfBytes(flowCanonicalBytes(flow))
}

/** CIDv1 header of flow hashes: version 1, codec json (varint 0x80 0x04), sha2-256 (0x12), 32 bytes. */
const CID_HEADER = Uint8Array.of(0x01, 0x80, 0x04, SHA2_256, 32)
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

/** Multibase base32 (RFC 4648, lowercase, no padding, `b` prefix) of a CID's bytes: what `CID.toString()` gives. */
function base32Multibase(header: Uint8Array, digest: Uint8Array): string {
  let out = 'b'
  let buffer = 0
  let bits = 0
  const push = (byte: number): void => {
    buffer = (buffer << 8) | byte
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += BASE32[(buffer >>> bits) & 31]
    }
    buffer &= (1 << bits) - 1
  }
  for (const byte of header) push(byte)
  for (const byte of digest) push(byte)
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31]
  return out
}

/**
 * A flow's content hash: its {@link flowCid} as a base32 string (`bagaaiera…`). Identical for the
 * same flow whatever its format, key order or whitespace; the `signature` member is not covered, so
 * signing does not change it.
 */
export function flowHash(flow: Flow): string {
  // the same CID as flowCid(flow).toString(), without materializing the bytes and the CID object
  const digest = createHash('sha256').update(canonicalize(unsigned(flow)), 'utf8').digest()
  return base32Multibase(CID_HEADER, digest)
}

/** The binary form of {@link flowCid} (CIDv1 bytes: version, codec, multihash). */
export function flowHashBytes(flow: Flow): Uint8Array {
  return flowCid(flow).bytes
}

/** The hash string of already canonical bytes (internal: lets signing hash what it signs). */
export function hashOfCanonicalBytes(bytes: Uint8Array): string {
  return base32Multibase(CID_HEADER, createHash('sha256').update(bytes).digest())
}
