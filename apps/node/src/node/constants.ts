import type { Durability } from '@qflow/state'

/** Data directory of a node when the config names none (relative to the working directory). */
export const DEFAULT_DATA_DIR = '.qflow'

/** State store durability when the config names none: every transition is fsynced before it is acted on. */
export const DEFAULT_DURABILITY: Durability = 'fsync'

/** Environment variable holding the passphrase the keystore is sealed with. */
export const PASSPHRASE_ENV = 'QFLOW_PASSPHRASE'

/** Environment variable listing the private networks `http.request` may reach (comma-separated IPs or CIDRs). */
export const ALLOW_PRIVATE_NETWORKS_ENV = 'QFLOW_ALLOW_PRIVATE_NETWORKS'

/** Environment variable naming the data directory when `--data-dir` is not given. */
export const DATA_DIR_ENV = 'QFLOW_DATA_DIR'

/** Audience of the tokens the node accepts (and the admin identity issues itself). */
export const DEFAULT_AUDIENCE = 'qflow'

/** Lifetime of the token the admin identity issues itself for one operation, ms. */
export const OPERATION_TOKEN_TTL_MS = 60_000

/** Bytes of the random node secret the keyring's master key is derived from. */
export const NODE_SECRET_BYTES = 32

/** Mode of every secret file the node writes (owner read/write only). */
export const SECRET_FILE_MODE = 0o600

/** Mode of the data directory the node creates (owner only). */
export const DATA_DIR_MODE = 0o700

/** Subnet of executions whose flow names none. */
export const DEFAULT_SUBNET = 'default'

/** Names of the files and directories under the data directory. */
export const DATA_DIR_LAYOUT = {
  /** Holds the pid of the process that has the data directory open. */
  lock: 'LOCK',
  /** The node secret (32 bytes), when no passphrase seals the keystore. */
  nodeSecret: 'node.secret',
  /** The squid keystore with the node and admin identities. */
  keystore: 'identity.keystore',
  /** The state store (execution logs, flow registry). */
  state: 'state',
  /** The Qonsent grant log. */
  qonsent: 'qonsent',
  /** The Qindex SQLite database. */
  index: 'index.sqlite',
  /** The Qlock keyring file name (directly under the data directory). */
  keyring: 'qlock-keyring.bin',
  /** Revoked bearer tokens and identities (`qflow token revoke`). */
  tokenRevocations: 'token-revocations.json'
} as const

/** Keystore label of the node identity. */
export const NODE_IDENTITY_LABEL = 'node'

/** Keystore label of the admin identity (the one the CLI acts as). */
export const ADMIN_IDENTITY_LABEL = 'admin'

/** Keystore label of the entry whose ed25519 seed is the node secret. */
export const NODE_SECRET_LABEL = 'node-secret'

/** Resource pattern the admin identity is granted on first start. */
export const ADMIN_RESOURCE = 'qflow:**'

/** Longest delay a timer takes (Node fires a longer one at once), ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** The statuses an execution ends in: its state never changes again. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'aborted'])
