import type { IdentityVerifier, VerifiedDelegation } from '../contracts/identity.js'
import type { Qlock } from '../contracts/qlock.js'
import { type OperationContext, operationSigningBytes } from '../operation.js'
import { verdictFromError } from '../pipeline.js'
import type { PipelineStageV1, StageVerdict } from '../stage.js'

/** Options of {@link qlockStage}. */
export interface QlockStageInit {
  /** The audience identity tokens must name (this node or service). */
  audience?: string
  /**
   * The node's own identities: they may act without credentials (internal operations such as a
   * scheduled trigger) and vouch for an actor they authenticated earlier (`vouchedBy`), so an
   * engine runs later steps of an execution for the identity that started it. Default none.
   */
  trustedActors?: Iterable<string>
  /**
   * How far a signed operation's `issuedAt` may be from this node's clock, ms. Older (or
   * future-dated) signatures are refused with `STALE_SIGNATURE`, which bounds how long a captured
   * signed operation can be replayed. Default 5 minutes.
   */
  maxSignatureSkewMs?: number
  /** The node's clock, ms since the epoch. Default `Date.now`. Tokens and delegations are judged by it. */
  now?: () => number
}

/** What the Qlock stage needs. */
export interface QlockStageComponents {
  /** Verifies tokens and delegation chains (sQuid). */
  identity: Pick<IdentityVerifier, 'verifyToken' | 'verifyDelegation' | 'verifySignature'>
  /** Verifies detached signatures when given; otherwise the identity verifier does. */
  qlock?: Pick<Qlock, 'verify'>
}

/** The details a passing Qlock stage leaves for later stages. */
export type QlockStageDetails = {
  /** The authenticated actor. */
  readonly identity: string
  /** The root identity the actor acts under (itself unless delegated). */
  readonly root: string
  /** How the actor was authenticated. */
  readonly method: 'token' | 'signature' | 'token+signature' | 'trusted' | 'vouched'
  /** The trusted node identity that vouched for the actor. */
  readonly vouchedBy?: string
  /** Capabilities a token or delegation chain limits the actor to. */
  readonly capabilities?: readonly string[]
}

const fail = (code: string, reason: string, details?: Record<string, unknown>): StageVerdict =>
  details === undefined ? { ok: false, code, reason } : { ok: false, code, reason, details }

class QlockStage implements PipelineStageV1 {
  readonly name = 'qlock' as const
  readonly apiVersion = 1 as const
  private readonly trusted: ReadonlySet<string>
  private readonly now: () => number
  private readonly maxSkew: number

  constructor(
    private readonly init: QlockStageInit,
    private readonly components: QlockStageComponents
  ) {
    this.trusted = new Set(init.trustedActors ?? [])
    this.now = init.now ?? Date.now
    this.maxSkew = init.maxSignatureSkewMs ?? 5 * 60 * 1000
  }

  private stale(operation: OperationContext): StageVerdict | undefined {
    const skew = Math.abs(this.now() - operation.issuedAt)
    if (skew <= this.maxSkew) return undefined
    return fail('STALE_SIGNATURE', `The operation was signed for ${new Date(operation.issuedAt).toISOString()}, outside the accepted window`, {
      issuedAt: operation.issuedAt,
      maxSkewMs: this.maxSkew
    })
  }

  async evaluate(operation: OperationContext): Promise<StageVerdict> {
    const { actor } = operation
    const credentials = actor.credentials
    if (credentials?.vouchedBy !== undefined) return this.vouched(operation, credentials.vouchedBy)
    if (credentials?.token === undefined && credentials?.signature === undefined) {
      if (this.trusted.has(actor.did)) {
        return { ok: true, details: { identity: actor.did, root: actor.did, method: 'trusted' } satisfies QlockStageDetails }
      }
      return fail('MISSING_CREDENTIALS', `Actor ${actor.did} presented neither an identity token nor a signature`, { actor: actor.did })
    }
    try {
      const now = this.now()
      let capabilities: readonly string[] | undefined
      let root: string | undefined
      if (credentials.token !== undefined) {
        const token = await this.components.identity.verifyToken(
          credentials.token,
          this.init.audience === undefined ? { now } : { audience: this.init.audience, now }
        )
        if (token.subject !== actor.did) {
          return fail('IDENTITY_MISMATCH', `The token speaks for ${token.subject}, not for the actor ${actor.did}`, {
            actor: actor.did,
            tokenSubject: token.subject
          })
        }
        capabilities = token.capabilities
        root = token.root
      }
      if (credentials.signature !== undefined) {
        const signature = credentials.signature
        if (signature.signer !== actor.did) {
          return fail('IDENTITY_MISMATCH', `The signature is by ${signature.signer}, not by the actor ${actor.did}`, {
            actor: actor.did,
            signer: signature.signer
          })
        }
        const stale = this.stale(operation)
        if (stale !== undefined) return stale
        const bytes = operationSigningBytes(operation)
        const valid =
          this.components.qlock === undefined
            ? await this.components.identity.verifySignature(actor.did, bytes, signature.value)
            : await this.components.qlock.verify(bytes, signature)
        if (!valid) return fail('BAD_SIGNATURE', `The operation signature by ${actor.did} does not verify`, { actor: actor.did })
      }
      let delegation: VerifiedDelegation | undefined
      if (credentials.delegation !== undefined && credentials.delegation.length > 0) {
        delegation = await this.components.identity.verifyDelegation(credentials.delegation, actor.did, now)
        capabilities = capabilities === undefined ? delegation.capabilities : capabilities.filter((c) => delegation?.capabilities.includes(c))
      }
      const method = credentials.token !== undefined && credentials.signature !== undefined ? 'token+signature' : credentials.token !== undefined ? 'token' : 'signature'
      const rootDid = delegation?.root ?? root ?? actor.did
      const details: QlockStageDetails =
        capabilities === undefined ? { identity: actor.did, root: rootDid, method } : { identity: actor.did, root: rootDid, method, capabilities }
      return { ok: true, details }
    } catch (err) {
      return verdictFromError(err)
    }
  }

  private async vouched(operation: OperationContext, voucher: string): Promise<StageVerdict> {
    const { actor } = operation
    if (!this.trusted.has(voucher)) {
      return fail('UNTRUSTED_VOUCHER', `${voucher} is not a trusted node identity and cannot act for ${actor.did}`, { actor: actor.did, vouchedBy: voucher })
    }
    const signature = actor.credentials?.signature
    if (signature !== undefined) {
      const stale = this.stale(operation)
      if (stale !== undefined) return stale
      if (signature.signer !== voucher) {
        return fail('IDENTITY_MISMATCH', `The signature is by ${signature.signer}, not by the voucher ${voucher}`, { signer: signature.signer, vouchedBy: voucher })
      }
      try {
        const bytes = operationSigningBytes(operation)
        const valid =
          this.components.qlock === undefined
            ? await this.components.identity.verifySignature(voucher, bytes, signature.value)
            : await this.components.qlock.verify(bytes, signature)
        if (!valid) return fail('BAD_SIGNATURE', `The voucher signature by ${voucher} does not verify`, { vouchedBy: voucher })
      } catch (err) {
        return verdictFromError(err)
      }
    }
    const details: QlockStageDetails = { identity: actor.did, root: actor.did, method: 'vouched', vouchedBy: voucher }
    return { ok: true, details }
  }
}

/**
 * The Qlock stage: authenticates the actor by its identity token and/or its detached signature
 * over the operation's signing bytes, and verifies its delegation chain when it acts as a
 * sub-identity. Verifier errors become halt codes (`TokenExpiredError` → `TOKEN_EXPIRED`).
 */
export function qlockStage(init: QlockStageInit = {}): (components: QlockStageComponents) => PipelineStageV1 {
  return (components) => new QlockStage(init, components)
}
