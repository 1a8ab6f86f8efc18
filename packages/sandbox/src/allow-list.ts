import { createPublicKey, verify } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { canonicalBytes } from '@qflow/canonical-json'
import { base58btc } from 'multiformats/bases/base58'
import { base64url } from 'multiformats/bases/base64'
import { CID } from 'multiformats/cid'
import { InvalidAllowListError } from './errors.js'

/** One approved template. */
export interface ApprovedTemplate {
  /** The module's CID. */
  readonly cid: string
  /** The name it was approved under. */
  readonly name: string
  /** The version it was approved under. */
  readonly version: string
  /** Host functions the DAO lets its manifest grant (none if absent). */
  readonly hostFunctions?: readonly string[]
  /** Outbound hosts the DAO lets its manifest allow (none if absent). */
  readonly allowedHosts?: readonly string[]
}

/** The list of templates a DAO approved. */
export interface AllowList {
  /** Format version. */
  readonly v: 1
  /** The DAO identity that signs it (`did:key:z6Mk…`). */
  readonly issuer: string
  /** When it was issued (ISO 8601). */
  readonly issuedAt: string
  /** The approved templates. */
  readonly templates: readonly ApprovedTemplate[]
}

/** An allow-list with the issuer's ed25519 signature over its canonical JSON (RFC 8785). */
export interface SignedAllowList {
  /** The list. */
  readonly list: AllowList
  /** base64url (no padding) ed25519 signature over `canonicalBytes(list)`. */
  readonly signature: string
}

/** Anything that signs bytes with ed25519 under a did:key (an sQuid `Identity`). */
export interface AllowListSigner {
  /** The signer's did:key. */
  readonly did: string
  /** Signs bytes (ed25519, 64-byte signature). */
  sign(data: Uint8Array): Promise<Uint8Array>
}

const ED25519_MULTICODEC = [0xed, 0x01]
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])

/** The raw ed25519 public key of a `did:key:z6Mk…`; throws {@link InvalidAllowListError} otherwise. */
export function ed25519KeyFromDid(did: string, pointer = '/list/issuer'): Uint8Array {
  if (typeof did !== 'string' || !did.startsWith('did:key:z')) throw new InvalidAllowListError(pointer, 'not a did:key')
  let decoded: Uint8Array
  try {
    decoded = base58btc.decode(did.slice('did:key:'.length))
  } catch {
    throw new InvalidAllowListError(pointer, 'not base58btc')
  }
  if (decoded.length !== 34 || decoded[0] !== ED25519_MULTICODEC[0] || decoded[1] !== ED25519_MULTICODEC[1]) {
    throw new InvalidAllowListError(pointer, 'not an ed25519 did:key')
  }
  return decoded.subarray(2)
}

/** Signs an allow-list as its issuer (the signer's did must be `list.issuer`). */
export async function signAllowList(list: AllowList, signer: AllowListSigner): Promise<SignedAllowList> {
  if (signer.did !== list.issuer) throw new InvalidAllowListError('/list/issuer', `the signer is ${signer.did}, not the issuer`)
  checkList(list)
  const signature = await signer.sign(canonicalBytes(list))
  return { list, signature: base64url.baseEncode(signature) }
}

function checkList(list: unknown): asserts list is AllowList {
  if (typeof list !== 'object' || list === null) throw new InvalidAllowListError('/list', 'must be an object')
  const l = list as Record<string, unknown>
  if (l.v !== 1) throw new InvalidAllowListError('/list/v', 'must be 1')
  if (typeof l.issuedAt !== 'string' || Number.isNaN(Date.parse(l.issuedAt))) throw new InvalidAllowListError('/list/issuedAt', 'must be an ISO date')
  if (!Array.isArray(l.templates)) throw new InvalidAllowListError('/list/templates', 'must be an array')
  l.templates.forEach((t: unknown, i: number) => {
    const p = `/list/templates/${i}`
    if (typeof t !== 'object' || t === null) throw new InvalidAllowListError(p, 'must be an object')
    const e = t as Record<string, unknown>
    for (const key of ['cid', 'name', 'version']) {
      if (typeof e[key] !== 'string' || (e[key] as string).length === 0) throw new InvalidAllowListError(`${p}/${key}`, 'must be a non-empty string')
    }
    try {
      CID.parse(e.cid as string)
    } catch {
      throw new InvalidAllowListError(`${p}/cid`, 'not a CID')
    }
    for (const key of ['hostFunctions', 'allowedHosts']) {
      const v = e[key]
      if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))) throw new InvalidAllowListError(`${p}/${key}`, 'must be an array of strings')
    }
  })
}

/**
 * Verifies a signed allow-list: its shape, that its issuer is one of `trustedIssuers`, and the
 * issuer's ed25519 signature over the list's canonical JSON (node:crypto). Returns the list.
 */
export function verifyAllowList(signed: unknown, trustedIssuers: readonly string[]): AllowList {
  if (typeof signed !== 'object' || signed === null) throw new InvalidAllowListError('', 'must be an object')
  const { list, signature } = signed as Record<string, unknown>
  checkList(list)
  if (!trustedIssuers.includes(list.issuer)) throw new InvalidAllowListError('/list/issuer', `${String(list.issuer)} is not a trusted issuer`)
  if (typeof signature !== 'string') throw new InvalidAllowListError('/signature', 'must be a base64url string')
  let sig: Uint8Array
  try {
    sig = base64url.baseDecode(signature)
  } catch {
    throw new InvalidAllowListError('/signature', 'not base64url')
  }
  const raw = ed25519KeyFromDid(list.issuer)
  const spki = new Uint8Array(SPKI_PREFIX.length + raw.length)
  spki.set(SPKI_PREFIX)
  spki.set(raw, SPKI_PREFIX.length)
  const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' })
  if (sig.length !== 64 || !verify(null, canonicalBytes(list), key, sig)) throw new InvalidAllowListError('/signature', 'does not verify against the issuer')
  return list
}

/** Reads a signed allow-list file (JSON) and verifies it ({@link verifyAllowList}). */
export async function readAllowListFile(path: string, trustedIssuers: readonly string[]): Promise<AllowList> {
  let parsed: unknown
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new InvalidAllowListError('', `cannot read ${path}: ${(err as Error).message}`)
  }
  return verifyAllowList(parsed, trustedIssuers)
}
