import { resolve } from 'node:path'
import { type Command, Option } from 'commander'
import type { CliIo } from '../io.js'
import type { QflowNodeConfig } from '../node/config.js'
import { ALLOW_PRIVATE_NETWORKS_ENV, DATA_DIR_ENV, DEFAULT_DATA_DIR, PASSPHRASE_ENV } from '../node/constants.js'
import type { QflowNode } from '../node/node.js'
import { TEMPLATE_ISSUERS_ENV } from '../node/sandbox-config.js'

/** The options every command that opens a node takes. */
export interface NodeCommandOptions {
  dataDir?: string
  durability?: 'fsync' | 'batched'
}

/** Adds `--data-dir` and `--durability` to a command. */
export function addNodeOptions(command: Command): Command {
  return command
    .option('-d, --data-dir <dir>', `the node's data directory (default: $${DATA_DIR_ENV}, else ${DEFAULT_DATA_DIR})`)
    .addOption(new Option('--durability <mode>', 'state store durability: fsync (every transition on disk first) or batched (group commit)').choices(['fsync', 'batched']))
}

/** The node config of a command: its options, plus `QFLOW_PASSPHRASE`, `QFLOW_ALLOW_PRIVATE_NETWORKS` and `QFLOW_TEMPLATE_ISSUERS`. */
export function nodeConfig(options: NodeCommandOptions, io: CliIo, extra: QflowNodeConfig = {}): QflowNodeConfig {
  const config: QflowNodeConfig = { dataDir: resolve(io.cwd, options.dataDir ?? io.env[DATA_DIR_ENV] ?? DEFAULT_DATA_DIR), ...extra }
  if (options.durability !== undefined) config.durability = options.durability
  const passphrase = io.env[PASSPHRASE_ENV]
  if (passphrase !== undefined && passphrase !== '') config.passphrase = passphrase
  const networks = io.env[ALLOW_PRIVATE_NETWORKS_ENV]
  if (networks !== undefined && networks.trim() !== '') {
    config.allowPrivateNetworks = networks
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== '')
  }
  const issuers = io.env[TEMPLATE_ISSUERS_ENV]
  if (issuers !== undefined && issuers.trim() !== '' && config.sandbox !== false) {
    config.sandbox = { ...config.sandbox, trustedIssuers: issuers.split(',').map((d) => d.trim()).filter((d) => d !== '') }
  }
  return config
}

/**
 * Starts a node, runs `use` with it and stops it, whatever `use` does. The node's modules are
 * loaded here, on first use, so the commands that need no node start fast.
 */
export async function withNode<T>(config: QflowNodeConfig, use: (node: QflowNode) => Promise<T>): Promise<T> {
  const { createQflowNode } = await import('../node/node.js')
  const node = createQflowNode(config)
  await node.start()
  try {
    return await use(node)
  } finally {
    await node.stop()
  }
}

/** Help text lines about the data directory, shared by the commands that open one. */
export const NODE_ENV_HELP = `
Environment:
  ${DATA_DIR_ENV}                 data directory when --data-dir is not given
  ${PASSPHRASE_ENV}               seals the node keystore (needed on every start once used)
  ${ALLOW_PRIVATE_NETWORKS_ENV}   networks http.request may reach, e.g. 127.0.0.0/8,10.0.0.0/8`
