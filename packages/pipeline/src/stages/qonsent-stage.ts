import type { Qonsent } from '../contracts/qonsent.js'
import type { OperationContext } from '../operation.js'
import { verdictFromError } from '../pipeline.js'
import { earlierDetails, type PipelineStageV1, type StageTraceEntry, type StageVerdict } from '../stage.js'

/** What the Qonsent stage needs. */
export interface QonsentStageComponents {
  /** Answers consent checks. */
  qonsent: Pick<Qonsent, 'check'>
}

class QonsentStage implements PipelineStageV1 {
  readonly name = 'qonsent' as const
  readonly apiVersion = 1 as const

  constructor(private readonly components: QonsentStageComponents) {}

  async evaluate(operation: OperationContext, earlier: readonly StageTraceEntry[]): Promise<StageVerdict> {
    const identity = earlierDetails(earlier, 'qlock')
    const capabilities = identity?.capabilities as readonly string[] | undefined
    if (capabilities !== undefined && !capabilities.includes(operation.action) && !capabilities.includes('*')) {
      return {
        ok: false,
        code: 'CAPABILITY_MISSING',
        reason: `The actor's delegation or token does not carry the capability ${operation.action}`,
        details: { action: operation.action, capabilities }
      }
    }
    try {
      const decision = await this.components.qonsent.check({
        subject: operation.actor.did,
        resource: operation.resource,
        action: operation.action,
        context: {
          kind: operation.kind,
          subnet: operation.subnet,
          traceId: operation.traceId,
          root: identity?.root ?? operation.actor.did,
          at: operation.issuedAt,
          ...operation.attributes
        }
      })
      const details = { status: decision.status, grantId: decision.grantId, expiresAt: decision.expiresAt }
      if (decision.allowed) return { ok: true, details }
      if (decision.status === 'expired') {
        return { ok: false, code: 'CONSENT_EXPIRED', reason: decision.reason, details, retryable: true }
      }
      return { ok: false, code: 'CONSENT_DENIED', reason: decision.reason, details }
    } catch (err) {
      return verdictFromError(err)
    }
  }
}

/**
 * The Qonsent stage: asks Qonsent whether the actor may do the operation's action on its
 * resource. A lapsed consent halts with the retryable code `CONSENT_EXPIRED` (renew and retry),
 * a refusal with `CONSENT_DENIED`; a token or delegation that lacks the action's capability halts
 * with `CAPABILITY_MISSING` before Qonsent is asked.
 */
export function qonsentStage(): (components: QonsentStageComponents) => PipelineStageV1 {
  return (components) => new QonsentStage(components)
}
