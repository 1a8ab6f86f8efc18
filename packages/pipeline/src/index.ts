/**
 * The universal validation pipeline of the Qflow ecosystem. Every operation passes Qlock
 * (identity, encryption, signatures) → Qonsent (permissions) → Qindex (metadata) → Qerberos
 * (integrity, anomalies), in that order, and halts with full context at the first failure. The
 * package owns the contracts of the services the stages call; adapters implement them.
 *
 * @example
 * ```ts
 * import { createPipeline, passThroughStage, PipelineHaltedError } from '@qflow/pipeline'
 *
 * const pipeline = createPipeline({
 *   stages: [
 *     passThroughStage('qlock'),
 *     { name: 'qonsent', apiVersion: 1, evaluate: (op) => op.actor.did === 'did:key:z6MkAlice'
 *         ? { ok: true }
 *         : { ok: false, code: 'CONSENT_DENIED', reason: 'only Alice' } },
 *     passThroughStage('qindex'),
 *     passThroughStage('qerberos')
 *   ]
 * })
 * try {
 *   await pipeline.run({ kind: 'doc.read', actor: { did: 'did:key:z6MkBob' }, resource: 'doc:1', action: 'read' })
 * } catch (err) {
 *   if (err instanceof PipelineHaltedError) console.log(err.stage, err.code) // qonsent CONSENT_DENIED
 * }
 * ```
 *
 * @packageDocumentation
 */
export {
  DEFAULT_PIPELINE_VERSION,
  PIPELINE_API_VERSION,
  STAGE_ORDER,
  SUPPORTED_STAGE_API_VERSIONS
} from './constants.js'
export type {
  DetachedSignature,
  IdentityVerifier,
  Signer,
  TokenExpectations,
  VerifiedDelegation,
  VerifiedToken
} from './contracts/identity.js'
export type {
  AnomalyAlert,
  AuditVerdict,
  IntegrityExpectations,
  IntegrityFailure,
  IntegrityReport,
  Qerberos,
  QerberosVerdict
} from './contracts/qerberos.js'
export type { IndexPage, IndexQuery, IndexRecord, IndexRecordKind, Qindex } from './contracts/qindex.js'
export type {
  EncryptedEnvelope,
  EncryptionBinding,
  KeyAgreementIdentity,
  Qlock,
  SealedEnvelope,
  SealedRecipient
} from './contracts/qlock.js'
export type { ConsentDecision, ConsentRequest, Qonsent } from './contracts/qonsent.js'
export { createDefaultPipeline, type DefaultPipelineInit } from './default-pipeline.js'
export { MissingStageError, PipelineHaltedError, StageOrderError, UnsupportedStageVersionError } from './errors.js'
export {
  type ActorCredentials,
  type ActorRef,
  createOperationContext,
  type OperationAction,
  type OperationContext,
  type OperationInput,
  operationSigningBytes,
  payloadDigest
} from './operation.js'
export {
  createPipeline,
  type Pipeline,
  type PipelineHooks,
  type PipelineInit,
  type PipelineResult,
  type RunOptions,
  verdictFromError
} from './pipeline.js'
export {
  earlierDetails,
  PASS,
  type PipelineStage,
  type PipelineStageV1,
  passThroughStage,
  type StageFail,
  type StageName,
  type StagePass,
  type StageTraceEntry,
  type StageVerdict
} from './stage.js'
export { type QerberosStageComponents, qerberosStage } from './stages/qerberos-stage.js'
export { type QindexStageComponents, qindexStage } from './stages/qindex-stage.js'
export { type QlockStageComponents, type QlockStageDetails, type QlockStageInit, qlockStage } from './stages/qlock-stage.js'
export { type QonsentStageComponents, qonsentStage } from './stages/qonsent-stage.js'
