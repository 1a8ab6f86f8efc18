import type { Qerberos } from '../contracts/qerberos.js'
import type { OperationContext } from '../operation.js'
import { verdictFromError } from '../pipeline.js'
import type { PipelineStageV1, StageVerdict } from '../stage.js'

/** What the Qerberos stage needs. */
export interface QerberosStageComponents {
  /** Judges integrity and anomalies. */
  qerberos: Pick<Qerberos, 'inspect'>
}

class QerberosStage implements PipelineStageV1 {
  readonly name = 'qerberos' as const
  readonly apiVersion = 1 as const

  constructor(private readonly components: QerberosStageComponents) {}

  async evaluate(operation: OperationContext): Promise<StageVerdict> {
    try {
      const judged = await this.components.qerberos.inspect(operation)
      const details: Record<string, unknown> = { verdict: judged.verdict }
      if (judged.integrity !== undefined) details.integrity = judged.integrity
      if (judged.alerts !== undefined && judged.alerts.length > 0) details.alerts = judged.alerts
      if (judged.verdict !== 'DENY') return { ok: true, details }
      return {
        ok: false,
        code: judged.code ?? 'QERBEROS_DENIED',
        reason: judged.reason ?? 'Qerberos denied the operation',
        details
      }
    } catch (err) {
      return verdictFromError(err)
    }
  }
}

/**
 * The Qerberos stage: integrity and anomaly checks. `DENY` halts (with Qerberos' code, e.g.
 * `DIGEST_MISMATCH`, `IDENTITY_BLOCKED`); `WARN` passes with the alerts in the trace.
 */
export function qerberosStage(): (components: QerberosStageComponents) => PipelineStageV1 {
  return (components) => new QerberosStage(components)
}
