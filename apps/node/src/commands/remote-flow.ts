import { type Command, Option } from 'commander'
import { stringify } from 'yaml'
import type { QflowClient } from '../client/client.js'
import type { FlowSummary, ListFlowsQuery, StoredFlow } from '../client/types.js'
import { collectFlowFiles } from '../files.js'
import { loadFlowFile } from '../flow-file.js'
import { iso, renderTable } from '../output.js'
import type { CommandContext } from '../program.js'
import { parseCount } from './remote-exec.js'
import { flowHistoryTable, flowVersionView } from '../flow-version-view.js'
import { LIST_PAGE_LIMIT } from './remote-constants.js'
import { addApiOption, REMOTE_ENV_HELP, REMOTE_EXIT_HELP, type RemoteCommandOptions, requireClient } from './remote-target.js'


// ---- handlers the local commands hand over to when a node is configured -------------------

/** `qflow flow history` against a node. */
export async function remoteFlowHistory(context: CommandContext, command: Command, client: QflowClient, id: string): Promise<void> {
  const output = context.output(command)
  const versions = await client.flows.history(id)
  output.result(versions.map(flowVersionView), () => flowHistoryTable(versions))
}

/** `qflow flow rollback` against a node. */
export async function remoteFlowRollback(context: CommandContext, command: Command, client: QflowClient, id: string, revision: number): Promise<void> {
  const output = context.output(command)
  const v = await client.flows.rollback(id, revision)
  output.result(flowVersionView(v), () => `${id}: revision ${v.revision} restores revision ${revision} (version ${v.flowVersion}, ${v.flowHash})`)
}

// ---- the commands only a node answers -----------------------------------------------------

async function createCommand(context: CommandContext, command: Command, targets: string[], options: RemoteCommandOptions): Promise<void> {
  const output = context.output(command)
  const client = await requireClient(options, context.io)
  // Every file is checked before any is sent: a bad one stops the lot, with its located problems.
  const files = await collectFlowFiles(targets, context.io)
  const loaded = []
  for (const file of files) loaded.push(await loadFlowFile(file, context.io))
  const stored: Record<string, unknown>[] = []
  for (const { source } of loaded) {
    const version = await client.flows.create(source.text, { format: source.format })
    stored.push({ file: source.path, ...flowVersionView(version) })
  }
  output.result(stored, () =>
    stored.map((s) => `${String(s.file)}: ${String(s.flowId)}@${String(s.flowVersion)} is revision ${String(s.revision)} (${String(s.flowHash)})`).join('\n')
  )
}

interface ListOptions extends RemoteCommandOptions {
  tag?: string[]
  category?: string
  owner?: string
  status?: 'active' | 'archived'
  search?: string
  archived?: boolean
  limit?: number
}

async function listCommand(context: CommandContext, command: Command, options: ListOptions): Promise<void> {
  const output = context.output(command)
  const client = await requireClient(options, context.io)
  const query: Omit<ListFlowsQuery, 'cursor'> = {
    ...(options.tag === undefined ? {} : { tag: options.tag }),
    ...(options.category === undefined ? {} : { category: options.category }),
    ...(options.owner === undefined ? {} : { owner: options.owner }),
    ...(options.status === undefined ? {} : { status: options.status }),
    ...(options.search === undefined ? {} : { q: options.search }),
    ...(options.archived === true ? { includeArchived: true } : {}),
    limit: Math.min(options.limit ?? LIST_PAGE_LIMIT, LIST_PAGE_LIMIT)
  }
  const flows: FlowSummary[] = []
  for await (const flow of client.flows.listAll(query)) {
    flows.push(flow)
    if (options.limit !== undefined && flows.length >= options.limit) break
  }
  output.result(flows, () =>
    flows.length === 0
      ? 'no flows'
      : renderTable(
          ['FLOW', 'VERSION', 'STATUS', 'CATEGORY', 'TAGS', 'UPDATED', 'NAME'],
          flows.map((f) => [f.id, f.version ?? '-', f.status, f.category ?? '-', f.tags.length === 0 ? '-' : f.tags.join(','), iso(f.updatedAt), f.name])
        )
  )
}

interface ShowOptions extends RemoteCommandOptions {
  flowVersion?: string
  document?: boolean
}

function describeStep(step: Record<string, unknown>): string {
  for (const key of ['action', 'module', 'event', 'expression', 'flowId']) {
    const value = step[key]
    if (typeof value === 'string') return key === 'module' && typeof step.operation === 'string' ? `${value}.${step.operation}` : value
  }
  if (Array.isArray(step.branches)) return `${step.branches.length} branches`
  return ''
}

function showText(stored: StoredFlow): string {
  const { flow, version } = stored
  const doc = flow as unknown as Record<string, unknown>
  const metadata = (doc.metadata ?? {}) as { tags?: unknown; category?: unknown }
  const lines = [
    `flow       ${flow.id}@${version.flowVersion}${typeof doc.name === 'string' ? ` (${doc.name})` : ''}`,
    `revision   ${version.revision} (${version.action}${version.rolledBackTo === undefined ? '' : ` to ${version.rolledBackTo}`}), ${iso(version.ts)}`,
    `hash       ${version.flowHash}`,
    `owner      ${String(doc.owner)}`
  ]
  if (version.archived) lines.push('archived   yes')
  if (Array.isArray(metadata.tags) && metadata.tags.length > 0) lines.push(`tags       ${metadata.tags.join(', ')}`)
  if (typeof metadata.category === 'string') lines.push(`category   ${metadata.category}`)
  if (typeof doc.description === 'string') lines.push(`about      ${doc.description}`)
  const triggers = Array.isArray(doc.triggers) ? (doc.triggers as Record<string, unknown>[]) : []
  if (triggers.length > 0) lines.push(`triggers   ${triggers.map((t) => `${String(t.id)} (${String(t.type)})`).join(', ')}`)
  lines.push('')
  const steps = Array.isArray(doc.steps) ? (doc.steps as Record<string, unknown>[]) : []
  lines.push(renderTable(['STEP', 'TYPE', 'RUNS'], steps.map((s) => [String(s.id), String(s.type), describeStep(s) || '-'])))
  return lines.join('\n')
}

/** Adds the `flow` subcommands only a node answers: `create`, `list`, `show` and `archive`. */
export function registerRemoteFlowCommands(flow: Command, context: CommandContext): void {
  flow
    .description('validate, hash, sign, verify and diff flow documents; store, list, show, roll back and archive flows on a node')
    .addHelpText(
      'after',
      `
On a node (--api, $QFLOW_API or "qflow login"):
  $ qflow flow create examples/flows/welcome.yaml
  $ qflow flow list --tag onboarding
  $ qflow flow show welcome
  $ qflow flow history welcome`
    )

  addApiOption(
    flow
      .command('create')
      .description('store flows on the node (each file is validated here first); storing the same content again answers its existing revision')
      .argument('<file...>', 'flow files or directories (- reads standard input); YAML is sent as YAML, JSON as JSON')
  )
    .addHelpText(
      'after',
      `
Every file is checked before any is sent: one bad file stops the command with its problems
located (file:line:column), and nothing is stored. With --json, prints an array with one
revision record per file.
${REMOTE_EXIT_HELP}
${REMOTE_ENV_HELP}

Examples:
  $ qflow flow create examples/flows/welcome.yaml
  $ qflow flow create examples/flows --api http://127.0.0.1:7070
  $ qflow --json flow create flow.json | jq -r '.[0].flowHash'`
    )
    .action(async (targets: string[], options: RemoteCommandOptions, command: Command) => createCommand(context, command, targets, options))

  addApiOption(
    flow
      .command('list')
      .description("list and search the node's flows: id, version, status, category, tags, last change and name")
      .option('-t, --tag <tag>', 'only flows with this tag (repeat: flows with every one)', (value: string, previous: string[] = []) => [...previous, value])
      .option('-c, --category <category>', 'only flows in this category')
      .option('-o, --owner <did>', 'only flows owned by this identity')
      .addOption(new Option('-s, --status <status>', 'only flows with this status').choices(['active', 'archived']))
      .option('-q, --search <text>', 'full-text search over names and descriptions')
      .option('-a, --archived', 'include archived flows')
      .option('-n, --limit <n>', 'list at most this many', parseCount(1))
  )
    .addHelpText(
      'after',
      `${REMOTE_EXIT_HELP}
${REMOTE_ENV_HELP}

Examples:
  $ qflow flow list
  $ qflow flow list --tag billing --tag events --category finance
  $ qflow flow list --search invoice --limit 10
  $ qflow --json flow list | jq -r '.[].id'`
    )
    .action(async (options: ListOptions, command: Command) => listCommand(context, command, options))

  addApiOption(
    flow
      .command('show')
      .description('show a flow stored on the node: its revision, hash, owner, triggers and steps')
      .argument('<id>', 'flow id, or id@version')
      .option('--flow-version <version>', 'a registry revision (2) or a document version (1.2.0); default the current one')
      .option('-d, --document', 'print the flow document itself (YAML; JSON with --json), e.g. to edit and create again')
  )
    .addHelpText(
      'after',
      `
With --json (and no --document), prints { flow, version }: the document and its revision record.
${REMOTE_EXIT_HELP}
${REMOTE_ENV_HELP}

Examples:
  $ qflow flow show welcome
  $ qflow flow show welcome --flow-version 1
  $ qflow flow show welcome --document > welcome.yaml
  $ qflow --json flow show welcome | jq .version.flowHash`
    )
    .action(async (ref: string, options: ShowOptions, command: Command) => {
      const output = context.output(command)
      const client = await requireClient(options, context.io)
      const at = ref.lastIndexOf('@')
      const id = at > 0 ? ref.slice(0, at) : ref
      const version = options.flowVersion ?? (at > 0 && at < ref.length - 1 ? ref.slice(at + 1) : undefined)
      const stored = version === undefined ? await client.flows.get(id) : await client.flows.getVersion(id, version)
      if (options.document === true) {
        output.result(stored.flow, () => stringify(stored.flow, { lineWidth: 0 }))
        return
      }
      output.result({ flow: stored.flow, version: flowVersionView(stored.version) }, () => showText(stored))
    })

  addApiOption(flow.command('archive').description('archive a flow on the node: it stays readable, but is listed only with --archived').argument('<id>', 'flow id'))
    .addHelpText(
      'after',
      `${REMOTE_EXIT_HELP}
${REMOTE_ENV_HELP}

Examples:
  $ qflow flow archive old-report
  $ qflow --json flow archive old-report | jq .revision`
    )
    .action(async (id: string, options: RemoteCommandOptions, command: Command) => {
      const output = context.output(command)
      const client = await requireClient(options, context.io)
      const v = await client.flows.archive(id)
      output.result(flowVersionView(v), () => `${id}: archived (revision ${v.revision})`)
    })
}
