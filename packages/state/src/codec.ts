import { createHash } from 'node:crypto'
import * as dagJson from '@ipld/dag-json'
import { CID } from 'multiformats/cid'
import { create as createDigest, equals as digestEquals } from 'multiformats/hashes/digest'

/** Multihash code of sha2-256. */
const SHA2_256 = 0x12

/** A dag-json block: its CID (v1, sha2-256) and bytes. */
export interface Block {
  readonly cid: CID
  readonly bytes: Uint8Array
}

function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}

/** Encodes `value` as a dag-json block with a CIDv1 over its sha2-256. */
export function encodeBlock(value: unknown): Block {
  const bytes = dagJson.encode(value)
  const cid = CID.createV1(dagJson.code, createDigest(SHA2_256, sha256(bytes)))
  return { cid, bytes }
}

/** Whether `bytes` hash to `cid` (which must be a dag-json, sha2-256 CID). */
export function bytesMatchCid(cid: CID, bytes: Uint8Array): boolean {
  if (cid.code !== dagJson.code || cid.multihash.code !== SHA2_256) return false
  return digestEquals(cid.multihash, createDigest(SHA2_256, sha256(bytes)))
}

/** Decodes dag-json bytes; throws the codec's error on bad bytes. */
export function decodeBlock(bytes: Uint8Array): unknown {
  return dagJson.decode(bytes)
}

/** dag-json's deterministic encoding of a value (map keys sorted), the bytes entries are signed over. */
export function canonicalBlockBytes(value: unknown): Uint8Array {
  return dagJson.encode(value)
}

/** The multicodec code of dag-json. */
export const DAG_JSON_CODE = dagJson.code

/** Reads `value` as a CID if it is one (or a CID-shaped object from another copy of multiformats). */
export function asCid(value: unknown): CID | undefined {
  if (value === null || typeof value !== 'object') return undefined
  return CID.asCID(value) ?? undefined
}
