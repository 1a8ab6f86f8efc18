import type { IdentityVerifier } from './contracts/identity.js'
import type { Qerberos } from './contracts/qerberos.js'
import type { Qindex } from './contracts/qindex.js'
import type { Qlock } from './contracts/qlock.js'
import type { Qonsent } from './contracts/qonsent.js'
import { createPipeline, type Pipeline, type PipelineHooks } from './pipeline.js'
import { qerberosStage } from './stages/qerberos-stage.js'
import { qindexStage } from './stages/qindex-stage.js'
import { qlockStage } from './stages/qlock-stage.js'
import { qonsentStage } from './stages/qonsent-stage.js'

/** The services {@link createDefaultPipeline} wires, and its options. */
export interface DefaultPipelineInit {
  /** sQuid identity verification (tokens, signatures, delegations). */
  squid: Pick<IdentityVerifier, 'verifyToken' | 'verifyDelegation' | 'verifySignature'>
  /** Qlock; verifies operation signatures when given. */
  qlock?: Pick<Qlock, 'verify'>
  /** Qonsent. */
  qonsent: Pick<Qonsent, 'check'>
  /** Qindex. */
  qindex: Pick<Qindex, 'put'>
  /** Qerberos. */
  qerberos: Pick<Qerberos, 'inspect'>
  /** The audience identity tokens must name. */
  audience?: string
  /** Identities that act without credentials (the node's own). */
  trustedActors?: Iterable<string>
  /** Pipeline version stamped on operations. */
  version?: string
  /** Metrics and audit hooks. */
  hooks?: PipelineHooks
}

/** Wires the four standard stages over the given services. */
export function createDefaultPipeline(init: DefaultPipelineInit): Pipeline {
  const qlockInit = {
    ...(init.audience === undefined ? {} : { audience: init.audience }),
    ...(init.trustedActors === undefined ? {} : { trustedActors: init.trustedActors })
  }
  return createPipeline({
    stages: [
      qlockStage(qlockInit)(init.qlock === undefined ? { identity: init.squid } : { identity: init.squid, qlock: init.qlock }),
      qonsentStage()({ qonsent: init.qonsent }),
      qindexStage()({ qindex: init.qindex }),
      qerberosStage()({ qerberos: init.qerberos })
    ],
    ...(init.version === undefined ? {} : { version: init.version }),
    ...(init.hooks === undefined ? {} : { hooks: init.hooks })
  })
}
