/**
 * Qonsent for Qflow: the `Qonsent` contract of `@qflow/pipeline`, implemented twice — an
 * embedded consent engine that runs in the node with no service to start (grants and deny
 * rules with wildcard resource patterns and conditions, expiry, revocation, change
 * notification, an audit trail, an append-only grant log), and an HTTP client for the Qonsent
 * service (`POST /api/v1/qonsent/check`), plus a handler that serves that contract.
 *
 * @example
 * ```ts
 * import { createEmbeddedQonsent, createGrant } from '@qflow/adapters-qonsent'
 *
 * const qonsent = await createEmbeddedQonsent({ persistence: 'memory' })
 * await qonsent.grant(createGrant({
 *   subject: 'did:key:z6MkAlice', resource: 'qflow:flow:*', actions: ['read', 'execute'],
 *   grantedBy: 'did:key:z6MkOwner'
 * }))
 * const decision = await qonsent.check({ subject: 'did:key:z6MkAlice', resource: 'qflow:flow:f1', action: 'execute' })
 * console.log(decision.status) // allowed
 * await qonsent.stop()
 * ```
 *
 * @packageDocumentation
 */
export type { AuditStats, ConsentAuditRecord, ConsentAuditType } from './audit.js'
export {
  type ChangeStreamOptions,
  type ConsentChange,
  type ConsentChangeListener,
  changeAffects
} from './changes.js'
export {
  CONDITION_NAMES,
  type ConditionName,
  type ConditionScalar,
  type GrantConditions
} from './conditions.js'
export {
  CONSENT_EXPIRED_EVENT,
  CONSENT_GRANTED_EVENT,
  CONSENT_REVOKED_EVENT,
  DEFAULT_CHECK_PATH,
  DEFAULT_DATA_DIR,
  DEFAULT_EXPIRED_RETENTION_MS,
  DEFAULT_HTTP_TIMEOUT_MS,
  DEFAULT_SERVICE_URL,
  GRANT_LOG_FILE,
  STANDARD_ACTIONS
} from './constants.js'
export {
  createEmbeddedQonsent,
  type EmbeddedQonsent,
  type EmbeddedQonsentComponents,
  type EmbeddedQonsentInit,
  type EmbeddedQonsentStats,
  embeddedQonsent,
  type GrantFilter
} from './embedded-qonsent.js'
export {
  ChangeStreamOverflowError,
  DuplicateGrantError,
  GrantLogCorruptError,
  GrantLogWriteError,
  GrantNotFoundError,
  GrantSignatureError,
  InvalidConsentRequestError,
  InvalidGrantError,
  InvalidPatternError,
  MissingIdentityVerifierError,
  NotAuthorizedError,
  QonsentNotStartedError,
  QonsentProtocolError,
  QonsentStoreLockedError,
  QonsentUnavailableError
} from './errors.js'
export type { ConsentEvaluation, GrantConsidered } from './evaluate.js'
export {
  type ConsentGrant,
  type ConsentGrantInput,
  createGrant,
  type GrantEffect,
  grantSigningBytes,
  signGrant,
  validateGrant,
  verifyGrantSignature
} from './grant.js'
export type { GrantLogEvent, GrantLogLoadReport } from './grant-log.js'
export { type HttpQonsent, type HttpQonsentComponents, type HttpQonsentInit, httpQonsent } from './http-client.js'
export { createQonsentHttpHandler, type QonsentHttpHandler, type QonsentHttpHandlerInit } from './http-handler.js'
export type { CheckRequestBody, CheckResponseBody } from './http-wire.js'
export { compileResourcePattern, type ResourcePattern } from './resource-pattern.js'
