import type { Qindex } from '../contracts/qindex.js'
import type { OperationContext } from '../operation.js'
import { verdictFromError } from '../pipeline.js'
import { PASS, type PipelineStageV1, type StageVerdict } from '../stage.js'

/** What the Qindex stage needs. */
export interface QindexStageComponents {
  /** Stores metadata records. */
  qindex: Pick<Qindex, 'put'>
}

class QindexStage implements PipelineStageV1 {
  readonly name = 'qindex' as const
  readonly apiVersion = 1 as const

  constructor(private readonly components: QindexStageComponents) {}

  evaluate(operation: OperationContext): StageVerdict | Promise<StageVerdict> {
    const record = operation.index
    if (record === undefined) return PASS
    return this.components.qindex.put(record).then(
      (): StageVerdict => ({ ok: true, details: { indexed: record.key, kind: record.kind } }),
      verdictFromError
    )
  }
}

/** The Qindex stage: records the operation's metadata record, when it carries one. */
export function qindexStage(): (components: QindexStageComponents) => PipelineStageV1 {
  return (components) => new QindexStage(components)
}
