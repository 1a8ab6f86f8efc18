import { randomBytes } from 'node:crypto'
import type { Signer } from '@qflow/pipeline'
import { BoundedMap } from './bounded-map.js'
import { DEFAULT_TOKEN_TTL_MS, MAX_NONCE_LENGTH } from './constants.js'
import { capabilityListFault, type Delegation } from './delegation.js'
import { assertIdentifier } from './did.js'
import { fromBase64url, toBase64url } from './encoding.js'
import { InvalidDidError, TokenMalformedError } from './errors.js'

/** The claims of an sQuid identity token (a JWT). Times are JWT NumericDates: seconds since the epoch. */
export interface TokenClaims {
  /** The identity that signed the token. */
  readonly iss: string
  /** The identity the token speaks for: the issuer, or an identity the issuer delegated to. */
  readonly sub: string
  /** The audience(s): the services or nodes the token is for. */
  readonly aud: string | readonly string[]
  /** Expiry, seconds since the epoch. */
  readonly exp: number
  /** Start of validity, seconds since the epoch. */
  readonly nbf?: number
  /** When it was issued, seconds since the epoch. */
  readonly iat: number
  /** The single-use nonce. */
  readonly jti: string
  /** Capabilities the token is limited to. */
  readonly cap?: readonly string[]
  /** Delegations linking the issuer and the subject, root first. */
  readonly dlg?: readonly Delegation[]
}

/** Options of {@link issueToken}. */
export interface IssueTokenInit {
  /** The audience(s) the token is for. */
  audience: string | readonly string[]
  /** The identity the token speaks for. Default the signer itself. */
  subject?: string
  /** Lifetime counted from issue (not from `notBefore`), ms, rounded to whole seconds, at least 1 s. Default 5 minutes. */
  ttlMs?: number
  /** Start of validity, ms since the epoch. Default: valid from issue. */
  notBefore?: number
  /** Capabilities to limit the token to. */
  capabilities?: readonly string[]
  /** The delegation chain (root first) that lets the signer speak as itself-as-sub-identity or for `subject`. */
  delegation?: readonly Delegation[]
  /** The nonce (`jti`). Default 16 random bytes, base64url. */
  nonce?: string
  /** Issue time, ms since the epoch. Default `Date.now()`. */
  now?: number
}

/** A token split into its parts, not yet verified. */
export interface DecodedToken {
  /** The protected header. */
  readonly header: { readonly alg: 'EdDSA'; readonly typ?: 'JWT'; readonly kid?: string }
  /** The claims, shape-checked. */
  readonly claims: TokenClaims
  /** The bytes the signature covers (`header.payload`, ASCII). */
  readonly signingInput: Buffer
  /** The 64-byte signature. */
  readonly signature: Uint8Array
}

const NONCE = /^[\x21-\x7e]+$/
const MAX_AUDIENCES = 32
const MAX_AUDIENCE_LENGTH = 512
const HEADER_FIELDS = new Set(['alg', 'typ', 'kid'])
const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Signs an identity token as `signer`: a compact JWS (EdDSA) with header
 * `{"alg":"EdDSA","typ":"JWT","kid":<signer did>}` and the claims `iss`, `sub`, `aud`, `iat`,
 * `nbf`, `exp`, `jti`, and `cap`/`dlg` when given.
 *
 * @throws {@link TokenMalformedError} when the options make no valid token.
 */
export async function issueToken(signer: Signer, init: IssueTokenInit): Promise<string> {
  const now = init.now ?? Date.now()
  const iat = Math.floor(now / 1000)
  const ttl = Math.max(1, Math.round((init.ttlMs ?? DEFAULT_TOKEN_TTL_MS) / 1000))
  const claims: Record<string, unknown> = {
    iss: signer.did,
    sub: init.subject ?? signer.did,
    aud: typeof init.audience === 'string' ? init.audience : [...init.audience],
    iat,
    exp: iat + ttl,
    jti: init.nonce ?? randomBytes(16).toString('base64url')
  }
  if (init.notBefore !== undefined) claims.nbf = Math.floor(init.notBefore / 1000)
  if (init.capabilities !== undefined) claims.cap = [...init.capabilities]
  if (init.delegation !== undefined) claims.dlg = [...init.delegation]
  const header = { alg: 'EdDSA', typ: 'JWT', kid: signer.did }
  checkClaims(claims)
  const signingInput = `${Buffer.from(JSON.stringify(header), 'utf8').toString('base64url')}.${Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url')}`
  const signature = await signer.sign(Buffer.from(signingInput, 'latin1'))
  return `${signingInput}.${toBase64url(signature)}`
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value < 1e11
}

function identifierFault(value: unknown): string | undefined {
  try {
    assertIdentifier(value)
    return undefined
  } catch (err) {
    if (err instanceof InvalidDidError) return err.message
    throw err
  }
}

/** Checks the claims' shape; throws {@link TokenMalformedError} naming the first bad claim. */
function checkClaims(claims: Record<string, unknown>): TokenClaims {
  const issFault = identifierFault(claims.iss)
  if (issFault !== undefined) throw new TokenMalformedError(`iss: ${issFault}`)
  const subFault = identifierFault(claims.sub)
  if (subFault !== undefined) throw new TokenMalformedError(`sub: ${subFault}`)
  const aud = claims.aud
  const audiences = typeof aud === 'string' ? [aud] : aud
  if (
    !Array.isArray(audiences) ||
    audiences.length === 0 ||
    audiences.length > MAX_AUDIENCES ||
    !audiences.every((a) => typeof a === 'string' && a.length > 0 && a.length <= MAX_AUDIENCE_LENGTH)
  ) {
    throw new TokenMalformedError(`aud is not 1 to ${MAX_AUDIENCES} non-empty strings`)
  }
  if (!isNumericDate(claims.iat)) throw new TokenMalformedError('iat is not a NumericDate')
  if (!isNumericDate(claims.exp)) throw new TokenMalformedError('exp is not a NumericDate')
  if (claims.exp <= claims.iat) throw new TokenMalformedError('exp is not after iat')
  if (claims.nbf !== undefined && (!isNumericDate(claims.nbf) || claims.nbf >= claims.exp)) {
    throw new TokenMalformedError('nbf is not a NumericDate before exp')
  }
  if (typeof claims.jti !== 'string' || claims.jti.length > MAX_NONCE_LENGTH || !NONCE.test(claims.jti)) {
    throw new TokenMalformedError(`jti is not 1 to ${MAX_NONCE_LENGTH} printable ASCII characters`)
  }
  if (claims.cap !== undefined) {
    const fault = capabilityListFault(claims.cap)
    if (fault !== undefined) throw new TokenMalformedError(`cap: ${fault}`)
  }
  if (claims.dlg !== undefined && (!Array.isArray(claims.dlg) || claims.dlg.length === 0)) {
    throw new TokenMalformedError('dlg is not a non-empty list of delegations')
  }
  return claims as unknown as TokenClaims
}

function decodeJson(segment: string, what: string): Record<string, unknown> {
  // The signature covers the segment's text itself, so its trailing bits need no canonical check.
  const bytes = fromBase64url(segment, false)
  if (bytes === undefined) throw new TokenMalformedError(`the ${what} is not base64url`)
  let value: unknown
  try {
    value = JSON.parse(utf8.decode(bytes))
  } catch {
    throw new TokenMalformedError(`the ${what} is not UTF-8 JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TokenMalformedError(`the ${what} is not a JSON object`)
  return value as Record<string, unknown>
}

/** Header segments already checked (they repeat for every token of an issuer). */
const checkedHeaders = new BoundedMap<string, DecodedToken['header']>(1024)

function decodeHeader(segment: string): DecodedToken['header'] {
  const known = checkedHeaders.get(segment)
  if (known !== undefined) return known
  const header = decodeJson(segment, 'header')
  for (const key of Object.keys(header)) {
    if (!HEADER_FIELDS.has(key)) throw new TokenMalformedError(`header parameter ${JSON.stringify(key.slice(0, 40))} is not supported`)
  }
  if (header.alg !== 'EdDSA') throw new TokenMalformedError('alg is not EdDSA')
  if (header.typ !== undefined && header.typ !== 'JWT') throw new TokenMalformedError('typ is not JWT')
  if (header.kid !== undefined && typeof header.kid !== 'string') throw new TokenMalformedError('kid is not a string')
  const typed = Object.freeze(header) as unknown as DecodedToken['header']
  checkedHeaders.set(segment, typed)
  return typed
}

/**
 * Splits and shape-checks a token without verifying its signature or times: for inspection and
 * as the first step of verification. Never trust its claims before {@link IdentityVerifier.verifyToken}.
 *
 * @throws {@link TokenMalformedError} for anything but a compact EdDSA JWS with well-formed sQuid claims.
 */
export function decodeToken(token: string, maxLength = Number.POSITIVE_INFINITY): DecodedToken {
  if (typeof token !== 'string') throw new TokenMalformedError('not a string')
  if (token.length > maxLength) throw new TokenMalformedError(`longer than ${maxLength} characters`)
  const first = token.indexOf('.')
  const second = first < 0 ? -1 : token.indexOf('.', first + 1)
  if (second < 0 || token.indexOf('.', second + 1) !== -1) throw new TokenMalformedError('not three dot-separated parts')
  const header = decodeHeader(token.slice(0, first))
  const claims = checkClaims(decodeJson(token.slice(first + 1, second), 'payload'))
  if (header.kid !== undefined && header.kid !== claims.iss) throw new TokenMalformedError('kid is not the issuer')
  const signature = fromBase64url(token.slice(second + 1))
  if (signature?.length !== 64) throw new TokenMalformedError('the signature is not 64 bytes of base64url')
  return { header, claims, signingInput: Buffer.from(token.slice(0, second), 'latin1'), signature }
}
