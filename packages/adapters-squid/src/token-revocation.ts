import { JsonFileWriter, readTextIfExists } from './atomic-file.js'
import { DEFAULT_MAX_REVOKED_TOKENS, MAX_NONCE_LENGTH, MAX_REVOCATION_REASON_LENGTH, TOKEN_REVOCATIONS_FORMAT } from './constants.js'
import { assertIdentifier } from './did.js'
import { InvalidTokenRevocationError, RevocationStoreCorruptError, TokenRevocationLimitError } from './errors.js'

/** One revoked token: its issuer's nonce (`jti`), remembered until the token expires. */
export interface RevokedToken {
  readonly kind: 'token'
  /** The token's issuer (`iss`). */
  readonly issuer: string
  /** The token's nonce (`jti`). */
  readonly nonce: string
  /** When the token expires (`exp`), ms since the epoch; the entry is dropped after it. */
  readonly expiresAt: number
  /** When it was revoked, ms since the epoch. */
  readonly revokedAt: number
  /** Why, for people. */
  readonly reason?: string
  /** Who revoked it. */
  readonly by?: string
}

/**
 * Every token of an identity issued before a moment: tokens it signed (`iss`) or that speak for it
 * (`sub`) whose `iat` is earlier than `before`. `iat` counts whole seconds, so a token issued in the
 * same second as `before` is covered too.
 */
export interface RevokedIdentity {
  readonly kind: 'identity'
  /** The identity whose earlier tokens are refused. */
  readonly identity: string
  /** Tokens issued before this moment are refused, ms since the epoch. */
  readonly before: number
  /** When it was revoked, ms since the epoch. */
  readonly revokedAt: number
  /** Why, for people. */
  readonly reason?: string
  /** Who revoked it. */
  readonly by?: string
}

/** A token revocation: one token, or every earlier token of an identity. */
export type TokenRevocation = RevokedToken | RevokedIdentity

/** What a revocation check is asked about a verified token. */
export interface TokenFacts {
  /** `iss`. */
  readonly issuer: string
  /** `sub`. */
  readonly subject: string
  /** `jti`. */
  readonly nonce: string
  /** `iat`, ms since the epoch. */
  readonly issuedAt: number
}

/** Anything that answers whether a token is revoked (synchronously: it is asked on every request). */
export interface TokenRevocationCheck {
  /** The revocation that covers the token, or `undefined` when none does. */
  revocationOf(token: TokenFacts): TokenRevocation | undefined
}

/** Who revoked, and why; both optional. */
export interface TokenRevocationOptions {
  /** Why, for people (cut to 512 characters). */
  reason?: string
  /** Who revoked (an identity), recorded with the entry. */
  by?: string
}

/** Called once for each new or moved revocation. */
export type TokenRevocationListener = (entry: TokenRevocation) => void

/**
 * Revoked bearer tokens. A revocation takes effect in memory at once and is persisted when the
 * registry has a file; token entries are forgotten once their tokens expire (an expired token fails
 * anyway), identity entries are kept.
 */
export interface TokenRevocationRegistry extends TokenRevocationCheck {
  /**
   * Revokes one token by its issuer and nonce until it expires. Revoking it again answers the first entry.
   *
   * @throws {@link InvalidTokenRevocationError} for a bad issuer, nonce or expiry.
   * @throws {@link TokenRevocationLimitError} when the registry is full of unexpired entries.
   * @throws the file system's error when persisting fails (the revocation still holds in memory).
   */
  revokeToken(token: { readonly issuer: string; readonly nonce: string; readonly expiresAt: number }, options?: TokenRevocationOptions): Promise<RevokedToken>
  /**
   * Revokes every token of `identity` (issued by it, or speaking for it) issued before `before`
   * (default now). A later cutoff replaces an earlier one; an earlier one than the identity has
   * answers the entry it has.
   *
   * @throws {@link InvalidTokenRevocationError} for a bad identity, or a `before` in the future.
   * @throws the file system's error when persisting fails (the revocation still holds in memory).
   */
  revokeIdentity(identity: string, options?: TokenRevocationOptions & { before?: number }): Promise<RevokedIdentity>
  /** The revocations in force: identities, then tokens not yet expired, each oldest first. */
  entries(): TokenRevocation[]
  /** Calls `listener` for each revocation from now on; returns the unsubscribe function. */
  subscribe(listener: TokenRevocationListener): () => void
  /** Entries held (identities and tokens not yet dropped). */
  readonly size: number
}

/** Options of {@link createTokenRevocationRegistry}. */
export interface TokenRevocationRegistryInit {
  /** A file to load from and persist to (written atomically, mode 0600). Default none: memory only. */
  path?: string
  /** The clock: revocation times, and which tokens have expired. Default `Date.now`. */
  clock?: () => number
  /** Unexpired revoked tokens held at most. Default 100,000. */
  maxTokens?: number
}

const NONCE = /^[\x21-\x7e]+$/

function tokenKey(issuer: string, nonce: string): string {
  return `${issuer} ${nonce}`
}

function checkIdentity(value: unknown, path: string): string {
  try {
    assertIdentifier(value)
  } catch (err) {
    throw new InvalidTokenRevocationError(path, (err as Error).message)
  }
  return value
}

function checkTime(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new InvalidTokenRevocationError(path, 'not a time in ms since the epoch')
  return value
}

function checkNonce(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NONCE_LENGTH || !NONCE.test(value)) {
    throw new InvalidTokenRevocationError(path, `not 1 to ${MAX_NONCE_LENGTH} printable ASCII characters`)
  }
  return value
}

function extras(options: TokenRevocationOptions | undefined): { reason?: string; by?: string } {
  const out: { reason?: string; by?: string } = {}
  if (options?.reason !== undefined) out.reason = options.reason.slice(0, MAX_REVOCATION_REASON_LENGTH)
  if (options?.by !== undefined) out.by = checkIdentity(options.by, '/by')
  return out
}

class FileTokenRevocationRegistry implements TokenRevocationRegistry {
  private readonly tokens = new Map<string, RevokedToken>()
  private readonly identities = new Map<string, RevokedIdentity>()
  private readonly listeners = new Set<TokenRevocationListener>()
  private readonly file: JsonFileWriter | undefined

  constructor(
    path: string | undefined,
    private readonly clock: () => number,
    private readonly maxTokens: number,
    loaded: readonly TokenRevocation[]
  ) {
    this.file = path === undefined ? undefined : new JsonFileWriter(path, 0o600)
    for (const entry of loaded) {
      if (entry.kind === 'token') this.tokens.set(tokenKey(entry.issuer, entry.nonce), entry)
      else this.identities.set(entry.identity, entry)
    }
    this.dropExpired()
  }

  get size(): number {
    return this.tokens.size + this.identities.size
  }

  revocationOf(token: TokenFacts): TokenRevocation | undefined {
    if (this.identities.size > 0) {
      const byIssuer = this.identities.get(token.issuer)
      if (byIssuer !== undefined && token.issuedAt < byIssuer.before) return byIssuer
      const bySubject = token.subject === token.issuer ? undefined : this.identities.get(token.subject)
      if (bySubject !== undefined && token.issuedAt < bySubject.before) return bySubject
    }
    return this.tokens.size === 0 ? undefined : this.tokens.get(tokenKey(token.issuer, token.nonce))
  }

  async revokeToken(token: { readonly issuer: string; readonly nonce: string; readonly expiresAt: number }, options?: TokenRevocationOptions): Promise<RevokedToken> {
    const issuer = checkIdentity(token.issuer, '/issuer')
    const nonce = checkNonce(token.nonce, '/nonce')
    const expiresAt = checkTime(token.expiresAt, '/expiresAt')
    const key = tokenKey(issuer, nonce)
    const existing = this.tokens.get(key)
    if (existing !== undefined) return existing
    const extra = extras(options)
    if (this.tokens.size >= this.maxTokens) {
      this.dropExpired()
      if (this.tokens.size >= this.maxTokens) throw new TokenRevocationLimitError(this.maxTokens)
    }
    const entry: RevokedToken = Object.freeze({ kind: 'token', issuer, nonce, expiresAt, revokedAt: this.clock(), ...extra })
    this.tokens.set(key, entry)
    this.announce(entry)
    await this.persist()
    return entry
  }

  async revokeIdentity(identity: string, options?: TokenRevocationOptions & { before?: number }): Promise<RevokedIdentity> {
    checkIdentity(identity, '/identity')
    const now = this.clock()
    const before = options?.before === undefined ? now : checkTime(options.before, '/before')
    if (before > now) throw new InvalidTokenRevocationError('/before', 'is in the future: only tokens already issued can be revoked')
    const extra = extras(options)
    const existing = this.identities.get(identity)
    if (existing !== undefined && existing.before >= before) return existing
    const entry: RevokedIdentity = Object.freeze({ kind: 'identity', identity, before, revokedAt: now, ...extra })
    this.identities.set(identity, entry)
    this.announce(entry)
    await this.persist()
    return entry
  }

  entries(): TokenRevocation[] {
    this.dropExpired()
    return [...this.identities.values(), ...this.tokens.values()]
  }

  subscribe(listener: TokenRevocationListener): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  private dropExpired(): void {
    const now = this.clock()
    for (const [key, entry] of this.tokens) if (entry.expiresAt <= now) this.tokens.delete(key)
  }

  private announce(entry: TokenRevocation): void {
    for (const listener of this.listeners) {
      try {
        listener(entry)
      } catch {
        // A failing subscriber must not undo or block a revocation.
      }
    }
  }

  private persist(): Promise<void> {
    return (
      this.file?.write(() => {
        this.dropExpired()
        return { format: TOKEN_REVOCATIONS_FORMAT, v: 1, identities: [...this.identities.values()], tokens: [...this.tokens.values()] }
      }) ?? Promise.resolve()
    )
  }
}

function parseEntry(value: unknown, kind: 'token' | 'identity'): TokenRevocation {
  const e = value as Record<string, unknown> | null
  if (typeof e !== 'object' || e === null || e.kind !== kind) throw new InvalidTokenRevocationError('/kind', `not a ${kind} revocation`)
  const revokedAt = checkTime(e.revokedAt, '/revokedAt')
  if (e.reason !== undefined && typeof e.reason !== 'string') throw new InvalidTokenRevocationError('/reason', 'not text')
  const extra = extras({ ...(e.reason === undefined ? {} : { reason: e.reason as string }), ...(e.by === undefined ? {} : { by: e.by as string }) })
  if (kind === 'token') {
    return Object.freeze({
      kind,
      issuer: checkIdentity(e.issuer, '/issuer'),
      nonce: checkNonce(e.nonce, '/nonce'),
      expiresAt: checkTime(e.expiresAt, '/expiresAt'),
      revokedAt,
      ...extra
    })
  }
  return Object.freeze({ kind, identity: checkIdentity(e.identity, '/identity'), before: checkTime(e.before, '/before'), revokedAt, ...extra })
}

function parseRegistryFile(path: string, text: string): TokenRevocation[] {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (err) {
    throw new RevocationStoreCorruptError(path, 'not JSON', { cause: err })
  }
  const record = body as { format?: unknown; v?: unknown; identities?: unknown; tokens?: unknown } | null
  if (
    typeof record !== 'object' ||
    record === null ||
    record.format !== TOKEN_REVOCATIONS_FORMAT ||
    record.v !== 1 ||
    !Array.isArray(record.identities) ||
    !Array.isArray(record.tokens)
  ) {
    throw new RevocationStoreCorruptError(path, `not a version 1 ${TOKEN_REVOCATIONS_FORMAT} file`)
  }
  const parse = (list: unknown[], kind: 'token' | 'identity'): TokenRevocation[] =>
    list.map((value, index) => {
      try {
        return parseEntry(value, kind)
      } catch (err) {
        throw new RevocationStoreCorruptError(path, `${kind} entry ${index} is not a revocation: ${(err as Error).message}`)
      }
    })
  return [...parse(record.identities, 'identity'), ...parse(record.tokens, 'token')]
}

/**
 * Opens a token revocation registry: in memory, or backed by a file that is loaded now and
 * rewritten atomically on every change. Give it to {@link squidVerifier} as `tokenRevocations`.
 *
 * @example
 * ```ts
 * const revocations = await createTokenRevocationRegistry({ path: './.qflow/token-revocations.json' })
 * const verifier = squidVerifier({ replayProtection: false })({ tokenRevocations: revocations })
 * await revocations.revokeIdentity(leakedDid, { reason: 'laptop stolen' }) // every token it had is refused
 * ```
 *
 * @throws {@link RevocationStoreCorruptError} when the file exists but cannot be read as a registry.
 */
export async function createTokenRevocationRegistry(init: TokenRevocationRegistryInit = {}): Promise<TokenRevocationRegistry> {
  const text = init.path === undefined ? undefined : await readTextIfExists(init.path)
  const loaded = text === undefined ? [] : parseRegistryFile(init.path as string, text)
  const maxTokens = init.maxTokens ?? DEFAULT_MAX_REVOKED_TOKENS
  if (!Number.isSafeInteger(maxTokens) || maxTokens < 1) throw new InvalidTokenRevocationError('/maxTokens', 'not a positive integer')
  return new FileTokenRevocationRegistry(init.path, init.clock ?? Date.now, maxTokens, loaded)
}
