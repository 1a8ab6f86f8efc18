import { resolve } from 'node:path'
import { canonicalize } from '@qflow/canonical-json'
import type { ConsentDecision, ConsentRequest, IdentityVerifier, Qonsent } from '@qflow/pipeline'
import { AuditTrail, type AuditStats, type ConsentAuditRecord } from './audit.js'
import { ChangeHub, type ChangeStreamOptions, type ConsentChange, type ConsentChangeListener } from './changes.js'
import {
  AUDIT_MAX_STRING,
  CONSENT_EXPIRED_EVENT,
  CONSENT_GRANTED_EVENT,
  CONSENT_REVOKED_EVENT,
  DEFAULT_AUDIT_BATCH_SIZE,
  DEFAULT_AUDIT_FLUSH_MS,
  DEFAULT_AUDIT_MAX_PENDING,
  DEFAULT_AUDIT_RING_SIZE,
  DEFAULT_CHANGE_BUFFER,
  DEFAULT_DATA_DIR,
  DEFAULT_EXPIRED_RETENTION_MS,
  DEFAULT_MAX_RESOURCE_LENGTH,
  DEFAULT_MAX_SUBJECT_LENGTH,
  MAX_IDENTITY_LENGTH,
  MAX_TIMER_DELAY_MS
} from './constants.js'
import {
  DuplicateGrantError,
  GrantLogCorruptError,
  GrantNotFoundError,
  GrantSignatureError,
  InvalidGrantError,
  MissingIdentityVerifierError,
  NotAuthorizedError,
  QonsentNotStartedError
} from './errors.js'
import { type ConsentEvaluation, type EvaluationLimits, evaluateRequest } from './evaluate.js'
import { ExpiryQueue } from './expiry-queue.js'
import { type CompiledGrant, type ConsentGrant, compileGrant, type GrantEffect, verifyGrantSignature } from './grant.js'
import { GrantIndex } from './grant-index.js'
import { GrantLog, type GrantLogEvent, type GrantLogLoadReport } from './grant-log.js'
import { patternCovers, patternsMayOverlap, type ResourcePattern } from './resource-pattern.js'
import { truncate } from './text.js'

/** Options of the embedded Qonsent. Every one is optional. */
export interface EmbeddedQonsentInit {
  /** `file` keeps grants in an append-only log under `dataDir`; `memory` keeps nothing (tests). Default `file`. */
  persistence?: 'file' | 'memory'
  /** Where the grant log lives. Default `.qflow/qonsent` under the working directory. */
  dataDir?: string
  /** fsync every grant log append before it takes effect. Default true. */
  fsync?: boolean
  /** What a corrupt grant log line does at start: `fail` (default, with the line's number) or `skip` it and load the rest. */
  corruptLines?: 'fail' | 'skip'
  /** Refuse unsigned grants, and verify every grant's signature when the log is loaded. Needs `components.identity`. Default false. */
  requireSignatures?: boolean
  /**
   * Check that grantors may grant: an allow grant needs its grantor to hold `share` and each of
   * its actions over the grant's resource, a deny rule needs `admin`; revoking someone else's
   * grant needs `admin`. Default false: this API is the node's own and is trusted.
   */
  enforceAuthority?: boolean
  /** Identities that may grant and revoke anything (when `enforceAuthority` is on). */
  authorities?: Iterable<string>
  /** Audit records kept in memory. Default 1,000. */
  auditRingSize?: number
  /** An append-only JSONL file every audit record is also written to (in batches). Default none. */
  auditFile?: string
  /** Audit records buffered before a file write starts. Default 512. */
  auditBatchSize?: number
  /** Longest time an audit record waits before it is written, ms. Default 200. */
  auditFlushMs?: number
  /** Audit records held while the file lags; newer ones are dropped (and counted, and the gap recorded) past it. Default 100,000. */
  auditMaxPending?: number
  /** Record every check in the audit trail. Default true. */
  auditChecks?: boolean
  /** How long an expired grant still answers `expired` (renewable) before it is purged, ms. Default 30 days. */
  expiredRetentionMs?: number
  /** Longest resource a check matches; longer ones are denied. Default 4,096. */
  maxResourceLength?: number
  /** Longest subject a check matches; longer ones are denied. Default 2,048. */
  maxSubjectLength?: number
  /** Changes an async-iterator consumer may fall behind by. Default 1,024. */
  changeBufferSize?: number
}

/** What the embedded Qonsent is given. */
export interface EmbeddedQonsentComponents {
  /** Verifies grant signatures (sQuid). Required when `requireSignatures` is on; signed grants are verified whenever it is given. */
  identity?: Pick<IdentityVerifier, 'verifySignature'>
  /** The clock, ms since the epoch. Default `Date.now`. */
  now?: () => number
}

/** Which grants {@link EmbeddedQonsent.list} returns. */
export interface GrantFilter {
  /** Grants that apply to this identity (exactly, through `*`, or through a prefix). */
  readonly subject?: string
  /** Grants whose pattern matches this resource. */
  readonly resource?: string
  /** Only allows, or only denies. */
  readonly effect?: GrantEffect
  /** Include grants that have expired (but are not purged yet). Default true. */
  readonly includeExpired?: boolean
}

/** Counters of the embedded Qonsent. */
export interface EmbeddedQonsentStats {
  /** Grants and deny rules held (expired ones until purged). */
  readonly grants: number
  /** Ids of revoked and purged grants (never reused). */
  readonly retired: number
  /** Errors subscribers threw. */
  readonly listenerErrors: number
  /** The audit trail's counters. */
  readonly audit: AuditStats
  /** What loading the grant log found (file persistence). */
  readonly load: GrantLogLoadReport | undefined
}

/**
 * The embedded Qonsent: grants and deny rules in memory, indexed for fast checks, persisted to an
 * append-only log, with revocation, expiry, change notification and an audit trail.
 */
export interface EmbeddedQonsent extends Qonsent {
  /** Loads the grant log (taking the data directory's lock) and starts the expiry timer. */
  start(): Promise<void>
  /** Waits for pending writes, flushes the audit trail, ends change streams and releases the lock. */
  stop(): Promise<void>
  /**
   * Decides whether `subject` may do `action` on `resource`, and records the check for audit.
   * Never rejects for a hostile request (it is denied); rejects with {@link QonsentNotStartedError} before `start()`.
   */
  check(request: ConsentRequest): Promise<ConsentDecision>
  /** {@link EmbeddedQonsent.check}, synchronously, with every grant that was weighed. */
  evaluate(request: ConsentRequest): ConsentEvaluation
  /**
   * Adds a grant or deny rule: validated, signature-checked, logged (fsynced), then live and
   * published. Adding the same grant twice is a no-op.
   *
   * @throws {@link InvalidGrantError}, {@link GrantSignatureError}, {@link DuplicateGrantError}, {@link NotAuthorizedError}, {@link GrantLogWriteError}.
   */
  grant(grant: ConsentGrant): Promise<ConsentGrant>
  /**
   * Revokes a grant: logged, removed, published. Returns the revoked grant.
   *
   * @throws {@link GrantNotFoundError}, {@link NotAuthorizedError}, {@link GrantLogWriteError}.
   */
  revoke(grantId: string, by: string, reason?: string): Promise<ConsentGrant>
  /** The live (or expired, not yet purged) grant with this id. */
  get(grantId: string): ConsentGrant | undefined
  /** The grants that pass the filter. */
  list(filter?: GrantFilter): ConsentGrant[]
  /** Calls `listener` with every change (added, revoked, expired); returns the unsubscribe function. */
  subscribe(listener: ConsentChangeListener): () => void
  /** The changes as an async iterator, from now on. */
  changes(options?: ChangeStreamOptions): AsyncIterableIterator<ConsentChange>
  /** Announces the grants that expired up to now (the expiry timer calls it); returns them. */
  expireDue(): ConsentGrant[]
  /** Rewrites the grant log to the live grants and the retired ids, atomically. */
  compact(): Promise<void>
  /** The latest audit records, oldest first. */
  auditLog(limit?: number): ConsentAuditRecord[]
  /** Writes buffered audit records to the audit file. */
  flushAudit(): Promise<void>
  /** Counters. */
  stats(): EmbeddedQonsentStats
}

function readString(value: unknown, max: number): string {
  return typeof value === 'string' ? truncate(value, max) : `<${value === null ? 'null' : typeof value}>`
}

class EmbeddedQonsentStore implements EmbeddedQonsent {
  private index = new GrantIndex()
  private addedAt = new Map<string, number>()
  private retired = new Set<string>()
  private readonly queue = new ExpiryQueue()
  private readonly hub: ChangeHub
  private readonly audit: AuditTrail
  private readonly log: GrantLog | undefined
  private readonly now: () => number
  private readonly identity: Pick<IdentityVerifier, 'verifySignature'> | undefined
  private readonly limits: EvaluationLimits
  private readonly authorities: ReadonlySet<string>
  private readonly retention: number
  private readonly scratch: CompiledGrant[] = []
  private scratchBusy = false
  private started = false
  private starting: Promise<void> | undefined
  private mutex: Promise<unknown> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined
  private loadReport: GrantLogLoadReport | undefined

  constructor(
    private readonly init: EmbeddedQonsentInit,
    components: EmbeddedQonsentComponents
  ) {
    this.now = components.now ?? Date.now
    this.identity = components.identity
    if (init.requireSignatures === true && this.identity === undefined) throw new MissingIdentityVerifierError()
    this.limits = {
      maxResourceLength: init.maxResourceLength ?? DEFAULT_MAX_RESOURCE_LENGTH,
      maxSubjectLength: init.maxSubjectLength ?? DEFAULT_MAX_SUBJECT_LENGTH
    }
    this.authorities = new Set(init.authorities ?? [])
    this.retention = init.expiredRetentionMs ?? DEFAULT_EXPIRED_RETENTION_MS
    this.hub = new ChangeHub(init.changeBufferSize ?? DEFAULT_CHANGE_BUFFER)
    this.audit = new AuditTrail({
      ringSize: init.auditRingSize ?? DEFAULT_AUDIT_RING_SIZE,
      file: init.auditFile === undefined ? undefined : resolve(init.auditFile),
      batchSize: init.auditBatchSize ?? DEFAULT_AUDIT_BATCH_SIZE,
      flushMs: init.auditFlushMs ?? DEFAULT_AUDIT_FLUSH_MS,
      maxPending: init.auditMaxPending ?? DEFAULT_AUDIT_MAX_PENDING,
      now: this.now
    })
    this.log = (init.persistence ?? 'file') === 'file' ? new GrantLog(resolve(init.dataDir ?? DEFAULT_DATA_DIR), init.fsync ?? true) : undefined
  }

  async start(): Promise<void> {
    if (this.started) return
    if (this.starting !== undefined) return this.starting
    this.starting = this.load()
    try {
      await this.starting
    } finally {
      this.starting = undefined
    }
  }

  private async load(): Promise<void> {
    const log = this.log
    if (log !== undefined) {
      this.index = new GrantIndex()
      this.addedAt = new Map()
      this.retired = new Set()
      await log.lock()
      try {
        const toVerify: [CompiledGrant, number][] = []
        this.loadReport = await log.load((event, line) => {
          this.replay(event)
          if (event.op === 'grant' && this.init.requireSignatures === true) toVerify.push([this.index.get(event.grant.id) as CompiledGrant, line])
        }, this.init.corruptLines === 'skip')
        for (const [entry, line] of toVerify) {
          try {
            await this.checkSignature(entry)
          } catch (err) {
            if (err instanceof GrantSignatureError) throw new GrantLogCorruptError(log.file, line, err.message, err)
            throw err
          }
        }
        await this.audit.open()
      } catch (err) {
        await log.close()
        throw err
      }
    } else {
      await this.audit.open()
    }
    const now = this.now()
    this.queue.clear()
    for (const entry of [...this.index.values()]) this.schedule(entry, now)
    this.started = true
    this.expireDue()
  }

  private replay(event: GrantLogEvent): void {
    switch (event.op) {
      case 'grant': {
        const entry = compileGrant(event.grant)
        const id = entry.grant.id
        if (this.index.get(id) !== undefined || this.retired.has(id)) throw new DuplicateGrantError(id, this.retired.has(id))
        this.index.add(entry)
        this.addedAt.set(id, event.at)
        return
      }
      case 'revoke':
        if (this.index.remove(event.id) === undefined) throw new GrantNotFoundError(event.id, `Revokes ${event.id}, which is not live at this point of the log`)
        this.addedAt.delete(event.id)
        this.retired.add(event.id)
        return
      case 'tombstone':
        this.index.remove(event.id)
        this.addedAt.delete(event.id)
        this.retired.add(event.id)
        return
    }
  }

  /**
   * Queues a grant's expiry (or, when it already expired, its purge); purges what is past retention.
   * A grant just added that expired already (`announce`) is queued to expire at once, so that its
   * `granted` event is followed by its `expired` one, as for any other grant.
   */
  private schedule(entry: CompiledGrant, now: number, announce = false): void {
    if (!Number.isFinite(entry.expiresAt)) return
    const id = entry.grant.id
    if (entry.expiresAt > now || announce) this.queue.push({ at: entry.expiresAt, id, kind: 'expire' })
    else this.queue.push({ at: entry.expiresAt + this.retention, id, kind: 'purge' })
  }

  async stop(): Promise<void> {
    if (this.starting !== undefined) await this.starting.catch(() => undefined)
    if (!this.started) return
    this.started = false
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    await this.mutex
    this.hub.close()
    await this.audit.close()
    await this.log?.close()
  }

  check(request: ConsentRequest): Promise<ConsentDecision> {
    if (!this.started) return Promise.reject(new QonsentNotStartedError())
    return Promise.resolve(this.judge(request, false).decision)
  }

  evaluate(request: ConsentRequest): ConsentEvaluation {
    this.assertStarted()
    return this.judge(request, true)
  }

  private judge(request: ConsentRequest, explain: boolean): ConsentEvaluation {
    const now = this.now()
    let result: ConsentEvaluation
    const scratch = this.scratchBusy ? [] : this.scratch
    this.scratchBusy = true
    try {
      result = evaluateRequest(this.index, request, now, this.limits, scratch, explain)
    } catch {
      result = {
        decision: { allowed: false, status: 'denied', reason: 'Malformed consent request: it cannot be read' },
        evaluatedAt: now,
        considered: [],
        examined: 0,
        malformed: 'the request cannot be read'
      }
    } finally {
      if (scratch === this.scratch) this.scratchBusy = false
    }
    if (this.init.auditChecks !== false) this.recordCheck(request, result.decision, now)
    return result
  }

  private recordCheck(request: ConsentRequest, decision: ConsentDecision, at: number): void {
    let ref = '<unreadable>'
    let actor = '<unreadable>'
    let action = '<unreadable>'
    try {
      const r = request as unknown as Record<string, unknown>
      ref = readString(r.resource, AUDIT_MAX_STRING)
      actor = readString(r.subject, AUDIT_MAX_STRING)
      action = readString(r.action, 128)
    } catch {
      // A hostile request object: its fields stay unreadable in the record.
    }
    const record: { -readonly [K in keyof ConsentAuditRecord]: ConsentAuditRecord[K] } = {
      type: 'CONSENT_CHECK',
      ref,
      actor,
      verdict: decision.allowed ? 'ALLOW' : 'DENY',
      reason: decision.reason,
      at,
      action,
      status: decision.status
    }
    if (decision.grantId !== undefined) record.grantId = decision.grantId
    this.audit.record(record)
  }

  async grant(input: ConsentGrant): Promise<ConsentGrant> {
    this.assertStarted()
    const entry = compileGrant(input)
    const grant = entry.grant
    return this.exclusive(async () => {
      this.assertStarted()
      const existing = this.index.get(grant.id)
      if (existing !== undefined) {
        if (canonicalize(existing.grant) === canonicalize(grant)) return existing.grant
        throw new DuplicateGrantError(grant.id)
      }
      if (this.retired.has(grant.id)) throw new DuplicateGrantError(grant.id, true)
      await this.checkSignature(entry)
      if (this.init.enforceAuthority === true) this.authorizeGrant(entry)
      const at = this.now()
      await this.log?.append({ v: 1, op: 'grant', at, grant })
      this.index.add(entry)
      this.addedAt.set(grant.id, at)
      this.schedule(entry, at, true)
      this.armTimer()
      this.hub.publish({ type: CONSENT_GRANTED_EVENT, grant, at, by: grant.grantedBy })
      this.audit.record({
        type: 'GRANT_ADDED',
        ref: grant.id,
        actor: grant.grantedBy,
        verdict: 'ALLOW',
        reason: `${grant.effect} ${grant.actions.join(',')} on ${grant.resource} for ${grant.subject}`,
        at,
        grantId: grant.id
      })
      return grant
    })
  }

  async revoke(grantId: string, by: string, reason?: string): Promise<ConsentGrant> {
    this.assertStarted()
    if (typeof by !== 'string' || by === '' || by.length > MAX_IDENTITY_LENGTH) {
      throw new InvalidGrantError('The revoker must be an identity string', '/by', { grantId: String(grantId) })
    }
    if (reason !== undefined && (typeof reason !== 'string' || reason.length > 1_024)) {
      throw new InvalidGrantError('The reason must be a string of at most 1,024 characters', '/reason', { grantId: String(grantId) })
    }
    return this.exclusive(async () => {
      this.assertStarted()
      const entry = typeof grantId === 'string' ? this.index.get(grantId) : undefined
      if (entry === undefined) {
        const id = String(grantId)
        throw new GrantNotFoundError(id, this.retired.has(id) ? `Grant ${id} was already revoked or purged` : undefined)
      }
      const grant = entry.grant
      if (this.init.enforceAuthority === true && by !== grant.grantedBy && !this.holds(by, 'admin', entry.pattern)) {
        throw new NotAuthorizedError(by, 'revoke', grant.id, `${by} is neither the grantor of ${grant.id} nor holds admin over ${grant.resource}`)
      }
      const at = this.now()
      await this.log?.append({ v: 1, op: 'revoke', at, id: grant.id, by, ...(reason === undefined ? {} : { reason }) })
      this.index.remove(grant.id)
      this.addedAt.delete(grant.id)
      this.retired.add(grant.id)
      this.hub.publish({ type: CONSENT_REVOKED_EVENT, grant, at, by, ...(reason === undefined ? {} : { reason }) })
      this.audit.record({
        type: 'GRANT_REVOKED',
        ref: grant.id,
        actor: by,
        verdict: 'WARN',
        reason: reason ?? `Revoked ${grant.effect} ${grant.actions.join(',')} on ${grant.resource} for ${grant.subject}`,
        at,
        grantId: grant.id
      })
      return grant
    })
  }

  get(grantId: string): ConsentGrant | undefined {
    return this.index.get(grantId)?.grant
  }

  list(filter: GrantFilter = {}): ConsentGrant[] {
    const now = this.now()
    let entries: CompiledGrant[]
    if (filter.subject !== undefined) {
      entries = []
      this.index.subjectGrants(filter.subject, entries)
    } else {
      entries = [...this.index.values()]
    }
    return entries
      .filter(
        (entry) =>
          (filter.effect === undefined || entry.grant.effect === filter.effect) &&
          (filter.includeExpired !== false || entry.expiresAt > now) &&
          (filter.resource === undefined || entry.pattern.matches(filter.resource))
      )
      .map((entry) => entry.grant)
  }

  subscribe(listener: ConsentChangeListener): () => void {
    return this.hub.subscribe(listener)
  }

  changes(options?: ChangeStreamOptions): AsyncIterableIterator<ConsentChange> {
    return this.hub.stream(options)
  }

  expireDue(): ConsentGrant[] {
    const now = this.now()
    const expired: ConsentGrant[] = []
    for (let due = this.queue.peek(); due !== undefined && due.at <= now; due = this.queue.peek()) {
      this.queue.pop()
      const entry = this.index.get(due.id)
      if (entry === undefined || !Number.isFinite(entry.expiresAt)) continue
      if (due.kind === 'expire') {
        const grant = entry.grant
        expired.push(grant)
        this.queue.push({ at: entry.expiresAt + this.retention, id: grant.id, kind: 'purge' })
        this.hub.publish({ type: CONSENT_EXPIRED_EVENT, grant, at: entry.expiresAt })
        this.audit.record({
          type: 'GRANT_EXPIRED',
          ref: grant.id,
          actor: 'qonsent',
          verdict: 'WARN',
          reason: `${grant.effect} ${grant.actions.join(',')} on ${grant.resource} for ${grant.subject} expired`,
          at: entry.expiresAt,
          grantId: grant.id
        })
      } else {
        this.index.remove(due.id)
        this.addedAt.delete(due.id)
        this.retired.add(due.id)
      }
    }
    this.armTimer()
    return expired
  }

  async compact(): Promise<void> {
    this.assertStarted()
    const log = this.log
    if (log === undefined) return
    await this.exclusive(async () => {
      const now = this.now()
      const events: GrantLogEvent[] = []
      for (const entry of this.index.values()) {
        events.push({ v: 1, op: 'grant', at: this.addedAt.get(entry.grant.id) ?? now, grant: entry.grant })
      }
      for (const id of this.retired) events.push({ v: 1, op: 'tombstone', at: now, id })
      await log.compact(events)
    })
  }

  auditLog(limit?: number): ConsentAuditRecord[] {
    return this.audit.recent(limit)
  }

  flushAudit(): Promise<void> {
    return this.audit.flush()
  }

  stats(): EmbeddedQonsentStats {
    return {
      grants: this.index.size,
      retired: this.retired.size,
      listenerErrors: this.hub.listenerErrors,
      audit: this.audit.stats(),
      load: this.loadReport
    }
  }

  private assertStarted(): void {
    if (!this.started) throw new QonsentNotStartedError()
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.mutex.then(task)
    this.mutex = run.catch(() => undefined)
    return run
  }

  private armTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    const next = this.queue.peek()
    if (!this.started || next === undefined) return
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, next.at - this.now()))
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (this.started) this.expireDue()
    }, delay)
    this.timer.unref()
  }

  private async checkSignature(entry: CompiledGrant): Promise<void> {
    const grant = entry.grant
    if (grant.signature === undefined) {
      if (this.init.requireSignatures === true) throw new GrantSignatureError(grant.id, grant.grantedBy, 'missing')
      return
    }
    if (this.identity === undefined) return
    if (!(await verifyGrantSignature(grant, this.identity))) throw new GrantSignatureError(grant.id, grant.grantedBy, 'invalid')
  }

  private authorizeGrant(entry: CompiledGrant): void {
    const grant = entry.grant
    const needed = grant.effect === 'deny' ? ['admin'] : ['share', ...grant.actions]
    for (const action of needed) {
      if (!this.holds(grant.grantedBy, action, entry.pattern)) {
        throw new NotAuthorizedError(
          grant.grantedBy,
          'grant',
          grant.id,
          `${grant.grantedBy} does not hold ${action} over ${grant.resource}, which granting ${grant.effect === 'deny' ? 'a deny rule' : 'this'} needs`
        )
      }
    }
  }

  /**
   * Whether `did` holds `action` over every resource `target` matches: an authority, or a live,
   * unconditional allow grant whose pattern covers the target, with no deny rule that may overlap.
   */
  private holds(did: string, action: string, target: ResourcePattern): boolean {
    if (this.authorities.has(did)) return true
    const now = this.now()
    const entries: CompiledGrant[] = []
    this.index.subjectGrants(did, entries)
    let allowed = false
    for (const entry of entries) {
      if (entry.expiresAt <= now) continue
      const covers = action === '*' ? entry.allActions : entry.allActions || entry.actions.has(action)
      if (entry.grant.effect === 'deny') {
        if ((entry.actions.has('*') || entry.actions.has(action)) && patternsMayOverlap(entry.pattern, target)) return false
      } else if (!allowed && covers && entry.conditions === undefined && patternCovers(entry.pattern, target)) {
        allowed = true
      }
    }
    return allowed
  }
}

/**
 * The embedded Qonsent, as a component factory: `embeddedQonsent(init)(components)`. Call
 * `start()` before use (or use {@link createEmbeddedQonsent}).
 *
 * @throws {@link MissingIdentityVerifierError} at construction when `requireSignatures` is on without `components.identity`.
 */
export function embeddedQonsent(init: EmbeddedQonsentInit = {}): (components?: EmbeddedQonsentComponents) => EmbeddedQonsent {
  return (components = {}) => new EmbeddedQonsentStore(init, components)
}

/** Makes and starts an embedded Qonsent. */
export async function createEmbeddedQonsent(init: EmbeddedQonsentInit = {}, components: EmbeddedQonsentComponents = {}): Promise<EmbeddedQonsent> {
  const qonsent = embeddedQonsent(init)(components)
  await qonsent.start()
  return qonsent
}
