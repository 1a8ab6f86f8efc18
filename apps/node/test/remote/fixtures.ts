import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createIdentity, issueToken } from '@qflow/adapters-squid'
import { createQflowNode, type QflowNode } from '../../src/node/node.js'
import { createApiServer, type ApiServer } from '../../src/server/server.js'
import { type CliResult, qflow } from '../fixtures/cli.js'

/** A started node with its API listening on 127.0.0.1, and tokens to call it with. */
export interface RemoteNode {
  /** The API's base URL. */
  readonly url: string
  /** A token of the node's admin identity (every right). */
  readonly adminToken: string
  /** A token of an identity the node has granted nothing. */
  readonly strangerToken: string
  /** The node. */
  readonly node: QflowNode
  /** The API server. */
  readonly server: ApiServer
  /** A fresh directory for this node's tests (config home, flow files). */
  readonly dir: string
  /** Closes the server, stops the node and removes its directories. */
  close(): Promise<void>
}

/** Starts a node in a temporary data directory and its API (with its WebSocket endpoint) on a free port. */
export async function startRemoteNode(): Promise<RemoteNode> {
  const dir = await mkdtemp(join(tmpdir(), 'qflow-remote-'))
  const node = createQflowNode({ dataDir: join(dir, 'data'), durability: 'memory' })
  await node.start()
  let server: ApiServer | undefined
  try {
    server = await createApiServer(node, { logLevel: 'silent', validateResponses: true })
    const { url } = await server.listen({ host: '127.0.0.1', port: 0 })
    const adminToken = await issueToken(node.parts.admin, { audience: 'qflow', ttlMs: 3_600_000 })
    const strangerToken = await issueToken(createIdentity(), { audience: 'qflow', ttlMs: 3_600_000 })
    const started = server
    return {
      url,
      adminToken,
      strangerToken,
      node,
      server: started,
      dir,
      close: async () => {
        await started.close()
        await node.stop()
        await rm(dir, { recursive: true, force: true })
      }
    }
  } catch (err) {
    await server?.close()
    await node.stop()
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

/** The environment of a CLI run: the config home given, and nothing inherited that names a node. */
export function cliEnv(configHome: string, extra: Record<string, string> = {}): Record<string, string> {
  return { XDG_CONFIG_HOME: configHome, QFLOW_API: '', QFLOW_TOKEN: '', QFLOW_DATA_DIR: '', ...extra }
}

/** Runs `qflow …args` against `node` with its admin token (`--api` and `QFLOW_TOKEN`). */
export function qflowAt(node: RemoteNode, args: readonly string[], options: { env?: Record<string, string>; input?: string; cwd?: string } = {}): Promise<CliResult> {
  return qflow(args, {
    env: cliEnv(join(node.dir, 'no-login'), { QFLOW_API: node.url, QFLOW_TOKEN: node.adminToken, ...options.env }),
    ...(options.input === undefined ? {} : { input: options.input }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd })
  })
}

/** Parses a CLI run's standard output as JSON, with the run in the failure message when it is not. */
export function json<T = Record<string, unknown>>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T
  } catch {
    throw new Error(`not JSON (exit ${result.code}):\n${result.stdout}\n--- stderr ---\n${result.stderr}`)
  }
}

const OWNER = 'did:key:z6Mkor76npWMRp5n8itqirHRnoD3kafYgWUejtyHrQULYacM'

/** Two transforms: `Hello, <name>` and its length. */
export const HELLO_YAML = `id: hello
name: Hello
version: 1.0.0
owner: ${OWNER}
metadata:
  tags: [test, greeting]
  category: testing
steps:
  - id: compose
    type: task
    action: data.transform
    params:
      expression: "'Hello, ' & input.name"
  - id: measure
    type: task
    action: data.transform
    params:
      expression: "{ 'greeting': steps.compose.output, 'length': $length(steps.compose.output) }"
`

/** {@link HELLO_YAML} at version 1.1.0 with another greeting. */
export const HELLO_V2_YAML = HELLO_YAML.replace('version: 1.0.0', 'version: 1.1.0').replace("'Hello, '", "'Hi, '")

/** A durable delay of `ms`, then a transform. */
export function delayedYaml(id: string, ms: number): string {
  return `id: ${id}
name: Delayed
version: 1.0.0
owner: ${OWNER}
metadata:
  tags: [test, delay]
steps:
  - id: wait
    type: task
    action: delay
    params:
      ms: ${ms}
  - id: done
    type: task
    action: data.transform
    params:
      expression: "'waited'"
`
}

/** Waits for the event `q.test.approved.v1` naming the input's `ticket`, then echoes its payload. */
export const APPROVAL_YAML = `id: approval
name: Approval
version: 1.0.0
owner: ${OWNER}
metadata:
  tags: [test, events]
steps:
  - id: await_approval
    type: event-trigger
    event: q.test.approved.v1
    filter:
      ticket: "{{ input.ticket }}"
    timeout: 600000
    onSuccess: finish
  - id: finish
    type: task
    action: data.transform
    params:
      expression: "'approved by ' & steps.await_approval.output.payload.by"
`
