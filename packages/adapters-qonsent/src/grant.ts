import { randomUUID } from 'node:crypto'
import { canonicalBytes } from '@qflow/canonical-json'
import type { IdentityVerifier, Signer } from '@qflow/pipeline'
import { type CompiledConditions, compileConditions, type GrantConditions } from './conditions.js'
import { MAX_ACTIONS, MAX_GRANT_ID_LENGTH, MAX_IDENTITY_LENGTH } from './constants.js'
import { GrantSignatureError, InvalidGrantError, InvalidPatternError } from './errors.js'
import { compileResourcePattern, type ResourcePattern } from './resource-pattern.js'
import { hasLoneSurrogate, pointerToken } from './text.js'

/** Whether a grant allows or denies. Deny rules override allows. */
export type GrantEffect = 'allow' | 'deny'

/**
 * One consent grant (or deny rule): `subject` may (or may not) do `actions` on the resources
 * `resource` matches, while `conditions` hold and until `expiresAt`.
 *
 * `admin` in an allow grant implies every action (it is full control of the resource); `*`
 * means every action in both allows and denies. A deny rule's actions are taken literally: a
 * deny of `admin` blocks `admin` only, a deny of `*` blocks everything.
 */
export interface ConsentGrant {
  /** Stable id; never reused, even after revocation. */
  readonly id: string
  /** Who: an identity (`did:key:z6Mk…`, a sub-identity did), `*` (anyone), or a prefix ending in `*` (`did:squid:alice:*`). */
  readonly subject: string
  /** What: a resource pattern (`qflow:flow:f1`, `qflow:flow:*`, `qflow:flow:build-*`, `qflow:**`). */
  readonly resource: string
  /** Which actions: `read`, `write`, `execute`, `admin`, `share`, a module's own verb, or `*`. */
  readonly actions: readonly string[]
  /** Allow, or deny (deny rules override allows). */
  readonly effect: GrantEffect
  /** Conditions the grant holds only under. */
  readonly conditions?: GrantConditions
  /** When the grant lapses, ms since the epoch; it never does when absent. */
  readonly expiresAt?: number
  /** The identity that issued the grant. */
  readonly grantedBy: string
  /** `grantedBy`'s ed25519 signature over {@link grantSigningBytes}, base64url. */
  readonly signature?: string
}

/** What {@link createGrant} needs: a grant without its id (one is made) and with `effect` defaulting to allow. */
export type ConsentGrantInput = Omit<ConsentGrant, 'id' | 'effect' | 'signature'> & { readonly id?: string; readonly effect?: GrantEffect }

/** How a grant's subject matches identities. */
export type SubjectMatch = { readonly kind: 'exact'; readonly value: string } | { readonly kind: 'any' } | { readonly kind: 'prefix'; readonly value: string }

/** A validated grant with its pattern and conditions compiled. */
export interface CompiledGrant {
  /** The grant, frozen. */
  readonly grant: ConsentGrant
  /** Its compiled resource pattern. */
  readonly pattern: ResourcePattern
  /** Its compiled conditions, when it has any. */
  readonly conditions: CompiledConditions | undefined
  /** How its subject matches. */
  readonly subject: SubjectMatch
  /** Its actions. */
  readonly actions: ReadonlySet<string>
  /** Whether it covers every action (`*`, or `admin` in an allow grant). */
  readonly allActions: boolean
  /** Expiry, ms since the epoch; `Infinity` when it never expires. */
  readonly expiresAt: number
}

/** The latest instant a JavaScript Date can hold. */
const MAX_DATE_MS = 8_640_000_000_000_000
const GRANT_KEYS = ['id', 'subject', 'resource', 'actions', 'effect', 'conditions', 'expiresAt', 'grantedBy', 'signature'] as const
const GRANT_ID = /^[A-Za-z0-9._:@-]+$/
const ACTION = /^[a-z][a-z0-9._-]{0,63}$/
const BASE64URL = /^[A-Za-z0-9_-]{1,1024}$/
const FORBIDDEN_IN_IDENTITY = /[\s\u0000-\u001f\u007f*]/

function fail(path: string, message: string, grantId?: string, cause?: unknown): never {
  throw new InvalidGrantError(message, path, { grantId, cause })
}

function checkIdentity(value: unknown, path: string, grantId: string): string {
  if (typeof value !== 'string' || value === '') fail(path, 'Expected a non-empty identity string', grantId)
  if (value.length > MAX_IDENTITY_LENGTH) fail(path, `Expected at most ${MAX_IDENTITY_LENGTH} characters`, grantId)
  if (hasLoneSurrogate(value)) fail(path, 'A lone UTF-16 surrogate has no canonical form', grantId)
  return value
}

function subjectMatch(value: string, grantId: string): SubjectMatch {
  if (value === '*') return { kind: 'any' }
  const body = value.endsWith('*') ? value.slice(0, -1) : value
  if (FORBIDDEN_IN_IDENTITY.test(body)) {
    fail('/subject', 'Expected an identity, `*`, or a prefix ending in one `*` (no whitespace or control characters)', grantId)
  }
  return body === value ? { kind: 'exact', value } : { kind: 'prefix', value: body }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const member of Object.values(value)) deepFreeze(member)
    Object.freeze(value)
  }
  return value
}

/**
 * Validates a grant and compiles it (pattern, conditions, subject). The grant is copied and
 * frozen: later changes to the object passed in change nothing.
 *
 * @throws {@link InvalidGrantError} with a JSON pointer (`/resource`, `/conditions/ipCidr/0`) to what is wrong.
 */
export function compileGrant(input: unknown): CompiledGrant {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) fail('', 'Expected a grant object')
  const raw = input as Record<string, unknown>
  const rawId = raw.id
  const grantId = typeof rawId === 'string' ? rawId.slice(0, MAX_GRANT_ID_LENGTH) : undefined
  for (const key of Object.keys(raw)) {
    if (!(GRANT_KEYS as readonly string[]).includes(key)) fail(`/${pointerToken(key)}`, 'Unknown member', grantId)
  }
  if (typeof rawId !== 'string' || rawId === '' || rawId.length > MAX_GRANT_ID_LENGTH || !GRANT_ID.test(rawId)) {
    fail('/id', `Expected an id of 1 to ${MAX_GRANT_ID_LENGTH} letters, digits and . _ : @ -`, grantId)
  }
  const id = rawId
  const subject = checkIdentity(raw.subject, '/subject', id)
  const subjectMatcher = subjectMatch(subject, id)
  const grantedBy = checkIdentity(raw.grantedBy, '/grantedBy', id)
  if (FORBIDDEN_IN_IDENTITY.test(grantedBy)) fail('/grantedBy', 'Expected one identity (no wildcard, whitespace or control characters)', id)

  if (typeof raw.resource !== 'string') fail('/resource', 'Expected a resource pattern string', id)
  let pattern: ResourcePattern
  try {
    pattern = compileResourcePattern(raw.resource)
  } catch (err) {
    if (err instanceof InvalidPatternError) fail('/resource', err.message, id, err)
    throw err
  }

  if (!Array.isArray(raw.actions) || raw.actions.length === 0) fail('/actions', 'Expected a non-empty array of actions', id)
  if (raw.actions.length > MAX_ACTIONS) fail('/actions', `Expected at most ${MAX_ACTIONS} actions`, id)
  const actions = new Set<string>()
  raw.actions.forEach((action: unknown, i: number) => {
    if (typeof action !== 'string' || (action !== '*' && !ACTION.test(action))) {
      fail(`/actions/${i}`, 'Expected `*` or a lowercase verb (read, write, execute, admin, share, or a-z0-9 . _ -)', id)
    }
    if (actions.has(action)) fail(`/actions/${i}`, `Duplicate action ${action}`, id)
    actions.add(action)
  })

  const effect = raw.effect
  if (effect !== 'allow' && effect !== 'deny') fail('/effect', "Expected 'allow' or 'deny'", id)

  const conditions = raw.conditions === undefined ? undefined : compileConditions(raw.conditions, '/conditions')

  const expiresAt = raw.expiresAt
  if (expiresAt !== undefined && (typeof expiresAt !== 'number' || !Number.isSafeInteger(expiresAt) || expiresAt < 0 || expiresAt > MAX_DATE_MS)) {
    fail('/expiresAt', 'Expected ms since the epoch (a non-negative integer a Date can hold)', id)
  }
  const signature = raw.signature
  if (signature !== undefined && (typeof signature !== 'string' || !BASE64URL.test(signature))) {
    fail('/signature', 'Expected a base64url signature', id)
  }

  const grant: ConsentGrant = deepFreeze({
    id,
    subject,
    resource: raw.resource,
    actions: [...actions],
    effect,
    ...(raw.conditions === undefined ? {} : { conditions: JSON.parse(JSON.stringify(raw.conditions)) as GrantConditions }),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    grantedBy,
    ...(signature === undefined ? {} : { signature })
  })
  return {
    grant,
    pattern,
    conditions,
    subject: subjectMatcher,
    actions,
    allActions: actions.has('*') || (effect === 'allow' && actions.has('admin')),
    expiresAt: expiresAt ?? Number.POSITIVE_INFINITY
  }
}

/**
 * Validates a grant without keeping it.
 *
 * @throws {@link InvalidGrantError} when it is malformed.
 */
export function validateGrant(grant: unknown): ConsentGrant {
  return compileGrant(grant).grant
}

/** The bytes a grant's signature covers: the RFC 8785 canonical JSON of the grant without `signature`. */
export function grantSigningBytes(grant: ConsentGrant): Uint8Array {
  const { signature: _signature, ...unsigned } = grant
  return canonicalBytes(unsigned)
}

/**
 * Fills in a grant: a random id when none is given, `effect: 'allow'` by default; then validates it.
 *
 * @throws {@link InvalidGrantError} when it is malformed.
 */
export function createGrant(input: ConsentGrantInput): ConsentGrant {
  return validateGrant({ ...input, id: input.id ?? randomUUID(), effect: input.effect ?? 'allow' })
}

/**
 * Signs a grant as its grantor.
 *
 * @throws {@link GrantSignatureError} (`signer-mismatch`) when `signer` is not the grant's `grantedBy`.
 * @throws {@link InvalidGrantError} when the grant is malformed.
 */
export async function signGrant(grant: ConsentGrant, signer: Signer): Promise<ConsentGrant> {
  const valid = validateGrant(grant)
  if (signer.did !== valid.grantedBy) throw new GrantSignatureError(valid.id, valid.grantedBy, 'signer-mismatch')
  const signature = await signer.sign(grantSigningBytes(valid))
  return validateGrant({ ...valid, signature: Buffer.from(signature).toString('base64url') })
}

/** Whether a grant carries a good signature by its `grantedBy` (errors of the verifier propagate). */
export async function verifyGrantSignature(grant: ConsentGrant, verifier: Pick<IdentityVerifier, 'verifySignature'>): Promise<boolean> {
  if (grant.signature === undefined) return false
  const signature = Buffer.from(grant.signature, 'base64url')
  return verifier.verifySignature(grant.grantedBy, grantSigningBytes(grant), new Uint8Array(signature))
}
