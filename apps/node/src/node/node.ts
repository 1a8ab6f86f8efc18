import { resolve } from 'node:path'
import { type QerberosMonitor, qerberos } from '@qflow/adapters-qerberos'
import { qindex, type SqliteQindex } from '@qflow/adapters-qindex'
import { type FileSubnetKeyring, fileKeyring, qlock } from '@qflow/adapters-qlock'
import { createEmbeddedQonsent, createGrant, type EmbeddedQonsent } from '@qflow/adapters-qonsent'
import {
  createTokenRevocationRegistry,
  type Identity,
  issueToken,
  offThreadSignatureCheck,
  squidVerifier,
  type SquidVerifier,
  type TokenRevocationRegistry,
  x25519PublicKeyFromDid
} from '@qflow/adapters-squid'
import { createDefaultPipeline, type Pipeline } from '@qflow/pipeline'
import { createActionRegistry, dataTransformAction, type Engine, engine, httpRequestAction, logAction } from '@qflow/scheduler'
import type { Sandbox } from '@qflow/sandbox'
import { createStateStore, type StateStore } from '@qflow/state'
import type { QflowNodeConfig } from './config.js'
import { ADMIN_RESOURCE, DATA_DIR_LAYOUT, DEFAULT_AUDIENCE, DEFAULT_DATA_DIR, DEFAULT_DURABILITY, DEFAULT_SUBNET, FINAL_STATUSES, MAX_TIMER_MS, OPERATION_TOKEN_TTL_MS } from './constants.js'
import { ensureDataDir, lockDataDir, loadOrCreateSecrets } from './data-dir.js'
import { NodeConfigError, NodeNotStartedError } from './errors.js'
import { indexRecordsOf } from './index-source.js'
import { ExecutionPruner } from './retention.js'
import { openNodeSandbox } from './sandbox.js'
import { nodeSecretStore, type SecretStore } from './secrets.js'

/** Id of the grant that gives the admin identity every action on `qflow:**`. */
export const ADMIN_GRANT_ID = 'qflow-admin-bootstrap'

/** Who an operation runs as: the admin identity with a fresh single-use token. */
export interface OperationActor {
  readonly actor: { readonly did: string; readonly credentials: { readonly token: string } }
}

/** A running node's parts. Read them only between `start()` and `stop()`. */
export interface QflowNodeParts {
  /** The node identity (signs log entries and registry records). */
  readonly node: Identity
  /** The admin identity the command line acts as. */
  readonly admin: Identity
  /** The state store (execution logs, flow registry, verification). */
  readonly store: StateStore
  /** The engine; started unless the config said `recover: false`. */
  readonly engine: Engine
  /** Embedded Qonsent (grants). */
  readonly qonsent: EmbeddedQonsent
  /** Qindex (SQLite). */
  readonly qindex: SqliteQindex
  /** Qerberos (integrity, anomalies, containment). */
  readonly qerberos: QerberosMonitor
  /** The sQuid verifier tokens are checked with (revoked tokens refused). */
  readonly verifier: SquidVerifier
  /** Revoked bearer tokens and identities, persisted in the data directory; the API's verifier consults it too. */
  readonly tokenRevocations: TokenRevocationRegistry
  /** The WebAssembly sandbox of `wasm.run`, when the node runs executions (see `QflowNodeConfig.sandbox`). */
  readonly sandbox?: Sandbox
  /** The universal pipeline (external events pass it before a flow starts). */
  readonly pipeline: Pipeline
  /** Named secrets (webhook signing secrets), sealed at rest with the node's Qlock keyring. */
  readonly secrets: SecretStore
  /** Removes finished executions per `QflowNodeConfig.retention`, when the node runs the engine and has one. */
  readonly pruner?: ExecutionPruner
}

/** A Qflow node over embedded defaults: nothing else to run. */
export interface QflowNode {
  /** The data directory, absolute. */
  readonly dataDir: string
  /** Whether it is started. */
  readonly started: boolean
  /** Whether the last `start()` created the data directory's identities (first start). */
  readonly firstStart: boolean
  /**
   * The parts, once started.
   *
   * @throws {@link NodeNotStartedError} before `start()` or after `stop()`.
   */
  readonly parts: QflowNodeParts
  /** The admin identity with a fresh short-lived token, for one operation. */
  asAdmin(): Promise<OperationActor>
  /**
   * Resumes the paused executions whose pause was a lapsed consent (`CONSENT_EXPIRED`) and whose
   * actor a grant now allows; resolves with their ids. Runs on its own on every consent change.
   */
  resumeConsentPaused(): Promise<string[]>
  /**
   * Opens the data directory (lock, secrets, keyring, state store, Qonsent, Qindex, Qerberos,
   * then the engine, which recovers unfinished executions).
   *
   * @throws `DataDirLockedError`, `DataDirCorruptError`, `NodePassphraseError`.
   */
  start(): Promise<void>
  /** Stops everything in reverse order and releases the data directory. */
  stop(): Promise<void>
}

type Teardown = () => Promise<void>

class EmbeddedQflowNode implements QflowNode {
  readonly dataDir: string
  firstStart = false
  private current: QflowNodeParts | undefined
  private teardown: Teardown[] = []
  private readonly unsubscribe: (() => void)[] = []

  constructor(private readonly config: QflowNodeConfig) {
    this.dataDir = resolve(config.dataDir ?? DEFAULT_DATA_DIR)
    const durability = config.durability ?? DEFAULT_DURABILITY
    if (!['fsync', 'batched', 'memory'].includes(durability)) throw new NodeConfigError('durability', `durability must be fsync, batched or memory, not ${String(durability)}`)
    const retention = config.retention
    if (retention !== undefined) {
      const { maxAgeMs, maxCount, intervalMs } = retention
      if (!Number.isSafeInteger(maxAgeMs) || maxAgeMs < 0) throw new NodeConfigError('retention', `retention.maxAgeMs must be a whole number of ms, 0 or more, not ${String(maxAgeMs)}`)
      if (!Number.isSafeInteger(maxCount) || maxCount < 0) throw new NodeConfigError('retention', `retention.maxCount must be a whole number, 0 or more, not ${String(maxCount)}`)
      if (!Number.isSafeInteger(intervalMs) || intervalMs < 1 || intervalMs > MAX_TIMER_MS) throw new NodeConfigError('retention', `retention.intervalMs must be a whole number of ms from 1 to ${MAX_TIMER_MS}, not ${String(intervalMs)}`)
    }
  }

  get started(): boolean {
    return this.current !== undefined
  }

  get parts(): QflowNodeParts {
    if (this.current === undefined) throw new NodeNotStartedError()
    return this.current
  }

  async asAdmin(): Promise<OperationActor> {
    const { admin } = this.parts
    const token = await issueToken(admin, { audience: DEFAULT_AUDIENCE, ttlMs: OPERATION_TOKEN_TTL_MS })
    return { actor: { did: admin.did, credentials: { token } } }
  }

  async start(): Promise<void> {
    if (this.current !== undefined) return
    try {
      await this.open()
    } catch (err) {
      await this.close()
      throw err
    }
  }

  private async open(): Promise<void> {
    const { config, dataDir } = this
    const subnet = config.subnet ?? DEFAULT_SUBNET
    await ensureDataDir(dataDir)
    const release = await lockDataDir(dataDir)
    this.teardown.push(release)

    const secrets = await loadOrCreateSecrets(dataDir, config.passphrase)
    this.firstStart = secrets.created
    const { node, admin } = secrets
    // Token and log signatures are checked on a worker thread: the event loop keeps driving executions.
    const signatures = offThreadSignatureCheck()
    this.teardown.push(() => signatures.close())
    const tokenRevocations = await createTokenRevocationRegistry({ path: resolve(dataDir, DATA_DIR_LAYOUT.tokenRevocations) })
    const verifier = squidVerifier()({ signatures, tokenRevocations })

    const keyring: FileSubnetKeyring = fileKeyring({ dataDir, fileName: DATA_DIR_LAYOUT.keyring })({ nodeSecret: secrets.nodeSecret })
    await keyring.start()
    this.teardown.push(() => keyring.stop())
    const lock = qlock()({ signer: node, verifier, keyring, recipientKeys: { x25519PublicKey: async (did) => x25519PublicKeyFromDid(did) } })
    const secretStore = nodeSecretStore()({ dataDir, qlock: lock, subnet })
    await secretStore.start()
    this.teardown.push(() => secretStore.stop())

    // Log entries are signed by the node identity on this thread: the store signs the entries of a
    // turn of the event loop as one batch (one ed25519 signature, ~50 µs), so a worker thread's
    // round trip would cost each step more time than the signature itself.
    const store = await createStateStore(
      { dataDir: resolve(dataDir, DATA_DIR_LAYOUT.state), durability: config.durability ?? DEFAULT_DURABILITY, subnet },
      { qlock: lock, signer: node, verifier }
    )
    this.teardown.push(() => store.stop())

    const consent = await createEmbeddedQonsent({ dataDir: resolve(dataDir, DATA_DIR_LAYOUT.qonsent), auditChecks: false })
    this.teardown.push(() => consent.stop())
    if (consent.get(ADMIN_GRANT_ID) === undefined) {
      await consent.grant(createGrant({ id: ADMIN_GRANT_ID, subject: admin.did, resource: ADMIN_RESOURCE, actions: ['*'], grantedBy: node.did }))
    }

    // The index is a view of the state store: it runs unsynced and is rebuilt should the machine go down under it.
    const index = qindex({
      path: resolve(dataDir, DATA_DIR_LAYOUT.index),
      crashRecovery: 'rebuild',
      ...(config.onIndexCorrupt === undefined ? {} : { onCorrupt: config.onIndexCorrupt })
    })({ source: () => indexRecordsOf(store, subnet) })
    await index.start()
    this.teardown.push(() => index.stop())

    const monitor = qerberos()({ identity: verifier })
    await monitor.start()
    this.teardown.push(() => monitor.stop())

    const pipeline = createDefaultPipeline({
      squid: verifier,
      qlock: lock,
      qonsent: consent,
      qindex: index,
      qerberos: monitor,
      audience: DEFAULT_AUDIENCE,
      trustedActors: [node.did]
    })
    const http = httpRequestAction(config.allowPrivateNetworks === undefined ? {} : { allowPrivateNetworks: config.allowPrivateNetworks })
    // WebAssembly templates (`wasm.run`): only a node that runs executions starts workers for them.
    const templates =
      config.sandbox === false || config.recover === false
        ? undefined
        : await openNodeSandbox({
            dataDir,
            admin,
            ...(config.sandbox === undefined ? {} : { config: config.sandbox }),
            ...(config.allowPrivateNetworks === undefined ? {} : { allowPrivateNetworks: config.allowPrivateNetworks }),
            onError: (template, err) => config.onError?.(template, err)
          })
    if (templates !== undefined) this.teardown.push(() => templates.sandbox.stop())
    const actions = createActionRegistry([dataTransformAction(), logAction(), http, ...(templates === undefined ? [] : [templates.action as never]), ...(config.actions ?? [])])
    const qflow = engine({
      subnet,
      ...(config.defaultStepTimeoutMs === undefined ? {} : { defaultStepTimeoutMs: config.defaultStepTimeoutMs }),
      ...(config.snapshotEvery === undefined ? {} : { snapshotEvery: config.snapshotEvery }),
      ...(config.onError === undefined ? {} : { onError: config.onError })
    })({ identity: node, log: store.log, flows: store.flows, pipeline, actions, qerberos: monitor, qindex: index })

    this.current = { node, admin, store, engine: qflow, qonsent: consent, qindex: index, qerberos: monitor, verifier, tokenRevocations, pipeline, secrets: secretStore }
    if (templates !== undefined) this.current = { ...this.current, sandbox: templates.sandbox }

    // Containment decisions pause what they name; consent changes may lift CONSENT_EXPIRED pauses.
    this.unsubscribe.push(
      monitor.onDecision((decision) => {
        const reason = `qerberos ${decision.action}: ${decision.reason}`
        const target = decision.action === 'pause-flow' ? { flowId: decision.target } : decision.action === 'block-identity' ? { actor: decision.target } : undefined
        if (target !== undefined) qflow.contain(target, reason).catch((err: unknown) => config.onError?.(decision.target, err))
      }),
      consent.subscribe((change) => {
        if (change.type !== 'q.qflow.consent.granted.v1') return
        this.resumeConsentPaused().catch((err: unknown) => config.onError?.(change.grant.id, err))
      })
    )

    if (config.recover !== false) {
      await qflow.start()
      this.teardown.push(() => qflow.stop())
      await this.resumeConsentPaused()
      if (config.retention !== undefined) {
        const isLive = (executionId: string): boolean => {
          const state = qflow.live(executionId)
          return state !== undefined && !FINAL_STATUSES.has(state.status)
        }
        const pruner = new ExecutionPruner(config.retention, { store, index, isLive }, {
          onPrune: (report) => config.onPrune?.(report),
          onError: (err) => config.onPruneError?.(err)
        })
        this.current = { ...this.current, pruner }
        pruner.start()
        this.teardown.push(() => pruner.stop())
      }
    }
  }

  async resumeConsentPaused(): Promise<string[]> {
    const { store, engine: qflow, qonsent } = this.parts
    const resumed: string[] = []
    for (const head of await store.log.listExecutions({ status: 'paused' })) {
      const state = qflow.live(head.executionId)
      if (state === undefined || state.status !== 'paused' || state.pausedReason !== 'CONSENT_EXPIRED') continue
      const decision = await qonsent.check({ subject: state.actor, resource: `qflow:flow:${state.flowId}`, action: 'execute' })
      if (!decision.allowed) continue
      await qflow.resume(head.executionId)
      resumed.push(head.executionId)
    }
    return resumed
  }

  async stop(): Promise<void> {
    await this.close()
  }

  private async close(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off()
    this.current = undefined
    const errors: unknown[] = []
    for (const step of this.teardown.splice(0).reverse()) {
      try {
        await step()
      } catch (err) {
        errors.push(err)
      }
    }
    if (errors.length > 0) throw errors[0]
  }
}

/**
 * Composes a Qflow node over embedded defaults (see {@link QflowNodeConfig}); call `start()`.
 *
 * @throws {@link NodeConfigError} when an option has an unusable value.
 */
export function createQflowNode(config: QflowNodeConfig = {}): QflowNode {
  return new EmbeddedQflowNode(config)
}
