import type { IndexCorruptError } from '@qflow/adapters-qindex'
import type { Action } from '@qflow/scheduler'
import type { Durability } from '@qflow/state'
import type { PruneReport, RetentionPolicy } from './retention.js'
import type { NodeSandboxConfig } from './sandbox-config.js'

/**
 * Options of {@link createQflowNode}; every one optional, defaults in `constants.ts`. The node
 * reads no environment variable itself: the command line maps `QFLOW_PASSPHRASE` and
 * `QFLOW_ALLOW_PRIVATE_NETWORKS` onto `passphrase` and `allowPrivateNetworks`.
 */
export interface QflowNodeConfig {
  /** The data directory (made with mode 0700 when missing). Default `./.qflow`. */
  dataDir?: string
  /**
   * State store durability: `fsync` (default; every transition is on disk before the engine acts
   * on it), `batched` (group commit, still durable when acknowledged) or `memory` (nothing kept).
   */
  durability?: Durability
  /**
   * Seals the keystore (node and admin identities, node secret) with this passphrase. Without it
   * the keystore is sealed with a random key kept in `<dataDir>/node.secret` (mode 0600). A data
   * directory made with a passphrase needs it on every start.
   */
  passphrase?: string
  /**
   * Private, loopback or link-local networks (IPs or CIDRs, e.g. `127.0.0.0/8`) that
   * `http.request` steps may reach. Default none: flows cannot reach the node's own network.
   */
  allowPrivateNetworks?: readonly string[]
  /**
   * Whether `start()` starts the engine, which recovers and continues every unfinished
   * execution. Default true; `false` opens the stores for reading (status, logs, verification)
   * without running anything.
   */
  recover?: boolean
  /** Step timeout when a step sets none, ms. Default the engine's (5 minutes). */
  defaultStepTimeoutMs?: number
  /** Snapshot every this many log entries. Default the engine's (500). */
  snapshotEvery?: number
  /** Subnet of executions whose flow names none. Default `default`. */
  subnet?: string
  /** Actions registered besides `data.transform`, `log`, `http.request` and `wasm.run` (`delay` is built in). */
  actions?: readonly Action[]
  /**
   * WebAssembly templates for `wasm.run` (see {@link NodeSandboxConfig}): the allow-list signed
   * by the admin identity in `<dataDir>/templates`, by default. `false` registers no `wasm.run`.
   * Only a node that runs the engine (`recover` not false) starts the sandbox.
   */
  sandbox?: NodeSandboxConfig | false
  /** Told of failures that belong to no caller (a store failure while driving an execution). */
  onError?: (executionId: string, error: unknown) => void
  /**
   * Removes finished executions past an age or beyond a count, in passes: one once started, then
   * every `intervalMs`. Default none: a node keeps every execution (its memory grows with them).
   * Only a node that runs the engine (`recover` not false) prunes.
   */
  retention?: RetentionPolicy
  /**
   * Told when the index turned out damaged (corrupt, or open when the machine went down): at start
   * it was moved aside (`movedTo`; the 3 newest such copies are kept) and rebuilt from the state store.
   */
  onIndexCorrupt?: (error: IndexCorruptError) => void
  /** Told what each pruning pass removed. */
  onPrune?: (report: PruneReport) => void
  /** Told of a pruning pass that failed (the next one tries again). */
  onPruneError?: (error: unknown) => void
}
