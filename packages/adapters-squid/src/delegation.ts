import { createHash, type KeyObject, randomBytes } from 'node:crypto'
import { canonicalize } from '@qflow/canonical-json'
import type { Signer, VerifiedDelegation } from '@qflow/pipeline'
import {
  DEFAULT_CLOCK_SKEW_MS,
  DEFAULT_DELEGATION_CACHE_SIZE,
  DEFAULT_DELEGATION_TTL_MS,
  DEFAULT_MAX_CHAIN_LENGTH,
  DELEGATION_SIGNING_PREFIX,
  MAX_CAPABILITIES,
  MAX_CAPABILITY_LENGTH,
  MAX_NONCE_LENGTH
} from './constants.js'
import { assertIdentifier } from './did.js'
import { fromBase64url, toBase64url } from './encoding.js'
import {
  DelegationChainError,
  DelegationExpiredError,
  DelegationMalformedError,
  DelegationNotYetValidError,
  DelegationRevokedError,
  InvalidDidError,
  InvalidSignatureError
} from './errors.js'
import { createIdentity, type Identity } from './identity.js'
import { BoundedMap } from './bounded-map.js'
import { ed25519Verify, type PublicKeys } from './keys.js'

/**
 * A signed statement that `issuer` lets `subject` act for it, limited to `capabilities`, from
 * `notBefore` until `expiresAt`. `proof` is the issuer's ed25519 signature (base64url) over the
 * domain tag `squid-delegation/v1\n` followed by the canonical bytes of every other field.
 */
export interface Delegation {
  /** Format version. */
  readonly v: 1
  /** The delegating (parent) identity. */
  readonly issuer: string
  /** The identity that receives the authority (the sub-identity). */
  readonly subject: string
  /** What the subject may do, as exact capability strings. */
  readonly capabilities: readonly string[]
  /** Start of validity, ms since the epoch. */
  readonly notBefore: number
  /** End of validity, ms since the epoch (exclusive). */
  readonly expiresAt: number
  /** A random nonce, so two otherwise equal delegations have different ids. */
  readonly nonce: string
  /** The issuer's signature, base64url; absent on an unsigned draft. */
  readonly proof?: string
}

/** Options of {@link delegate}. */
export interface DelegateInit {
  /** The identity receiving the authority. */
  subject: string
  /** What it may do. Default none (an identity-only delegation). */
  capabilities?: readonly string[]
  /** Start of validity, ms since the epoch. Default `now`. */
  notBefore?: number
  /** End of validity, ms since the epoch. Default `notBefore + ttlMs`. */
  expiresAt?: number
  /** Lifetime when `expiresAt` is not given, ms. Default 30 days. */
  ttlMs?: number
  /** The nonce. Default 16 random bytes, base64url. */
  nonce?: string
  /** The current time, ms since the epoch. Default `Date.now()`. */
  now?: number
  /**
   * The delegation that empowers the issuer, when it delegates further down a chain. The new
   * delegation's window is clipped to the parent's, and asking for capabilities the parent does
   * not hold, or delegating from an identity the parent is not for, throws {@link DelegationChainError}.
   */
  parent?: Delegation
}

const FIELDS = new Set(['v', 'issuer', 'subject', 'capabilities', 'notBefore', 'expiresAt', 'nonce', 'proof'])
const NONCE = /^[\x21-\x7e]+$/

function isTimestamp(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

/** Checks a capability list; returns a reason when it is not one. */
export function capabilityListFault(value: unknown): string | undefined {
  if (!Array.isArray(value)) return 'not an array'
  if (value.length > MAX_CAPABILITIES) return `more than ${MAX_CAPABILITIES} capabilities`
  const seen = new Set<string>()
  for (const capability of value) {
    if (typeof capability !== 'string' || capability.length === 0 || capability.length > MAX_CAPABILITY_LENGTH) {
      return `a capability is not a string of 1 to ${MAX_CAPABILITY_LENGTH} characters`
    }
    if (seen.has(capability)) return `capability ${JSON.stringify(capability)} is listed twice`
    seen.add(capability)
  }
  return undefined
}

/**
 * Checks that `value` is a well-formed v1 delegation and returns it typed (the same object).
 *
 * @param requireProof - Whether an unsigned draft is refused. Default true.
 * @param index - Its position in a chain, for error messages.
 * @throws {@link DelegationMalformedError} naming the offending field.
 */
export function parseDelegation(value: unknown, requireProof = true, index?: number): Delegation {
  const fail = (reason: string, pointer = ''): never => {
    throw new DelegationMalformedError(reason, pointer, index)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not an object')
  const record = value as Record<string, unknown>
  for (const key of Object.keys(record)) if (!FIELDS.has(key)) fail('unknown field', `/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`)
  if (record.v !== 1) fail('only version 1 is known', '/v')
  for (const field of ['issuer', 'subject'] as const) {
    try {
      assertIdentifier(record[field])
    } catch (err) {
      if (err instanceof InvalidDidError) fail(err.message, `/${field}`)
      throw err
    }
  }
  const capabilityFault = capabilityListFault(record.capabilities)
  if (capabilityFault !== undefined) fail(capabilityFault, '/capabilities')
  if (!isTimestamp(record.notBefore)) fail('not a timestamp (ms since the epoch)', '/notBefore')
  if (!isTimestamp(record.expiresAt)) fail('not a timestamp (ms since the epoch)', '/expiresAt')
  if ((record.expiresAt as number) <= (record.notBefore as number)) fail('expires before it starts', '/expiresAt')
  if (typeof record.nonce !== 'string' || record.nonce.length > MAX_NONCE_LENGTH || !NONCE.test(record.nonce)) {
    fail(`not 1 to ${MAX_NONCE_LENGTH} printable ASCII characters`, '/nonce')
  }
  if (record.proof === undefined) {
    if (requireProof) fail('unsigned (no proof)', '/proof')
  } else if (typeof record.proof !== 'string' || fromBase64url(record.proof)?.length !== 64) {
    fail('not a 64-byte ed25519 signature in base64url', '/proof')
  }
  return record as unknown as Delegation
}

/** The canonical JSON of a delegation without its proof: what its id hashes. */
function unsignedCanonical(delegation: Delegation): string {
  return canonicalize({
    v: delegation.v,
    issuer: delegation.issuer,
    subject: delegation.subject,
    capabilities: delegation.capabilities,
    notBefore: delegation.notBefore,
    expiresAt: delegation.expiresAt,
    nonce: delegation.nonce
  })
}

/** The bytes a delegation's issuer signs: `squid-delegation/v1\n` + the canonical bytes of the delegation without `proof`. */
export function delegationSigningBytes(delegation: Delegation): Uint8Array {
  return Buffer.from(DELEGATION_SIGNING_PREFIX + unsignedCanonical(delegation), 'utf8')
}

function idOfCanonical(canonical: string): string {
  return `sha256-${createHash('sha256').update(canonical, 'utf8').digest('base64url')}`
}

/**
 * A delegation's id: `sha256-` + base64url SHA-256 of its canonical bytes without `proof` (so a
 * re-encoded signature cannot dodge a revocation). This is what {@link RevocationRegistry.revoke} takes.
 *
 * @throws {@link DelegationMalformedError} when `delegation` is not a well-formed delegation.
 */
export function delegationId(delegation: Delegation): string {
  return idOfCanonical(unsignedCanonical(parseDelegation(delegation, false)))
}

/**
 * Signs a delegation from `issuer` (the parent) to `init.subject`. To delegate further down a
 * chain, pass the issuer's own delegation as `init.parent` so the window nests.
 *
 * @throws {@link DelegationMalformedError} when the options make no valid delegation (bad subject, capabilities or window);
 * {@link DelegationChainError} when they exceed `init.parent`.
 */
export async function delegate(issuer: Signer, init: DelegateInit): Promise<Delegation> {
  const now = init.now ?? Date.now()
  const parent = init.parent === undefined ? undefined : parseDelegation(init.parent)
  let notBefore = init.notBefore ?? now
  let expiresAt = init.expiresAt ?? notBefore + (init.ttlMs ?? DEFAULT_DELEGATION_TTL_MS)
  const capabilities = [...(init.capabilities ?? [])]
  if (parent !== undefined) {
    if (parent.subject !== issuer.did) {
      throw new DelegationChainError('broken-link', `The parent delegation is for ${parent.subject}, not for the issuer ${issuer.did}`)
    }
    const held = new Set(parent.capabilities)
    const extra = capabilities.filter((c) => !held.has(c))
    if (extra.length > 0) {
      throw new DelegationChainError('capability-escalation', `The parent delegation does not hold ${extra.map((c) => JSON.stringify(c)).join(', ')}`)
    }
    notBefore = Math.max(notBefore, parent.notBefore)
    expiresAt = Math.min(expiresAt, parent.expiresAt)
  }
  const draft = parseDelegation(
    {
      v: 1,
      issuer: issuer.did,
      subject: init.subject,
      capabilities,
      notBefore,
      expiresAt,
      nonce: init.nonce ?? randomBytes(16).toString('base64url')
    },
    false
  )
  const proof = toBase64url(await issuer.sign(delegationSigningBytes(draft)))
  return Object.freeze({ ...draft, capabilities: Object.freeze([...draft.capabilities]), proof })
}

/** A new sub-identity and the delegation its parent signed for it. */
export interface SubIdentity {
  /** The new identity. */
  readonly identity: Identity
  /** The parent's delegation to it. */
  readonly delegation: Delegation
}

/** Creates a fresh identity and has `parent` delegate `init.capabilities` to it. */
export async function createSubIdentity(parent: Signer, init: Omit<DelegateInit, 'subject'> = {}): Promise<SubIdentity> {
  const identity = createIdentity()
  return { identity, delegation: await delegate(parent, { ...init, subject: identity.did }) }
}

/** A delegation chain that verified, with the facts this package adds to the pipeline's. */
export interface SquidVerifiedDelegation extends VerifiedDelegation {
  /** When the chain becomes valid (the latest `notBefore`), ms since the epoch. */
  readonly notBefore: number
  /** The ids of the delegations, root first. */
  readonly ids: readonly string[]
}

/** Anything that answers whether a delegation id is revoked. */
export interface RevocationCheck {
  /** Whether the delegation with this id is revoked. */
  isRevoked(delegationId: string): boolean
}

/** Options of chain verification. */
export interface ChainVerifierInit {
  /** Most delegations in a chain. Default 8. */
  maxChainLength?: number
  /** Clock skew tolerated on `notBefore`/`expiresAt`, ms. Default 30 s. */
  clockSkewMs?: number
  /** Delegation signatures remembered as verified. Default 10,000; 0 turns the cache off. */
  delegationCacheSize?: number
}

/** Verifies delegation chains: structure, signatures, revocation and time, in that order. */
export class ChainVerifier {
  private readonly maxChainLength: number
  private readonly skew: number
  private readonly verified: BoundedMap<string, KeyObject> | undefined

  constructor(
    init: ChainVerifierInit,
    private readonly keys: PublicKeys,
    private readonly revocations: RevocationCheck | undefined
  ) {
    this.maxChainLength = init.maxChainLength ?? DEFAULT_MAX_CHAIN_LENGTH
    this.skew = init.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS
    const cacheSize = init.delegationCacheSize ?? DEFAULT_DELEGATION_CACHE_SIZE
    this.verified = cacheSize > 0 ? new BoundedMap(cacheSize) : undefined
  }

  /**
   * Verifies `chain` (root first) down to `leaf` at time `at`.
   *
   * @throws {@link DelegationMalformedError}, {@link DelegationChainError}, {@link InvalidSignatureError},
   * {@link DelegationRevokedError}, {@link DelegationNotYetValidError}, {@link DelegationExpiredError}.
   */
  async verify(chain: readonly unknown[], leaf: string, at: number): Promise<SquidVerifiedDelegation> {
    if (!Array.isArray(chain) || chain.length === 0) throw new DelegationChainError('empty', 'The delegation chain is empty')
    if (chain.length > this.maxChainLength) {
      throw new DelegationChainError('too-long', `The delegation chain has ${chain.length} links; at most ${this.maxChainLength} are allowed`)
    }
    const links = chain.map((value, index) => parseDelegation(value, true, index))
    // Structure: links connect, capabilities and windows only narrow, the chain ends at the leaf.
    for (let i = 1; i < links.length; i++) {
      const parent = links[i - 1] as Delegation
      const link = links[i] as Delegation
      if (link.issuer !== parent.subject) {
        throw new DelegationChainError('broken-link', `Delegation ${i} is issued by ${link.issuer}, not by ${parent.subject} (the subject of delegation ${i - 1})`, i)
      }
      const allowed = new Set(parent.capabilities)
      const extra = link.capabilities.filter((c) => !allowed.has(c))
      if (extra.length > 0) {
        throw new DelegationChainError('capability-escalation', `Delegation ${i} grants ${extra.map((c) => JSON.stringify(c)).join(', ')} which delegation ${i - 1} does not hold`, i)
      }
      if (link.notBefore < parent.notBefore || link.expiresAt > parent.expiresAt) {
        throw new DelegationChainError('window-escalation', `Delegation ${i} is valid outside the window of delegation ${i - 1}`, i)
      }
    }
    const last = links[links.length - 1] as Delegation
    if (last.subject !== leaf) {
      throw new DelegationChainError('wrong-leaf', `The delegation chain ends at ${last.subject}, not at ${leaf}`, links.length - 1)
    }
    // Signatures, each link by its issuer.
    const ids: string[] = []
    for (let i = 0; i < links.length; i++) {
      const link = links[i] as Delegation
      const canonical = unsignedCanonical(link)
      const id = idOfCanonical(canonical)
      ids.push(id)
      const key = await this.keys.get(link.issuer)
      const cacheKey = `${id}.${link.proof as string}`
      if (this.verified?.get(cacheKey) === key) continue
      const signature = fromBase64url(link.proof as string) as Uint8Array
      if (!ed25519Verify(key, Buffer.from(DELEGATION_SIGNING_PREFIX + canonical, 'utf8'), signature)) {
        throw new InvalidSignatureError(link.issuer, 'delegation', i)
      }
      this.verified?.set(cacheKey, key)
    }
    // Revocation anywhere in the chain kills it.
    if (this.revocations !== undefined) {
      for (let i = 0; i < ids.length; i++) {
        if (this.revocations.isRevoked(ids[i] as string)) throw new DelegationRevokedError(ids[i] as string, i)
      }
    }
    // Time: every link valid at `at`.
    let notBefore = 0
    let expiresAt = Number.POSITIVE_INFINITY
    for (let i = 0; i < links.length; i++) {
      const link = links[i] as Delegation
      if (at + this.skew < link.notBefore) throw new DelegationNotYetValidError(ids[i] as string, link.notBefore, i)
      if (at - this.skew >= link.expiresAt) throw new DelegationExpiredError(ids[i] as string, link.expiresAt, i)
      notBefore = Math.max(notBefore, link.notBefore)
      expiresAt = Math.min(expiresAt, link.expiresAt)
    }
    return {
      root: (links[0] as Delegation).issuer,
      leaf,
      capabilities: [...last.capabilities],
      notBefore,
      expiresAt,
      ids
    }
  }
}
