import { type Command, Option } from 'commander'
import type { GrantRecord } from '../client/types.js'
import { ExitCode } from '../constants.js'
import { parseDuration } from '../daemon/config.js'
import { iso, renderTable } from '../output.js'
import type { CommandContext } from '../program.js'
import { LIST_PAGE_LIMIT } from './remote-constants.js'
import { addApiOption, REMOTE_ENV_HELP, REMOTE_EXIT_HELP, type RemoteCommandOptions, requireClient } from './remote-target.js'

interface AddOptions extends RemoteCommandOptions {
  actions: string
  expires?: string
  deny?: boolean
  id?: string
}

interface ListOptions extends RemoteCommandOptions {
  subject?: string
  resource?: string
  effect?: 'allow' | 'deny'
  active?: boolean
}

interface RevokeOptions extends RemoteCommandOptions {
  reason?: string
}

const DURATION_WITH_UNIT = /^\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)$/
const DATE = /^\d{4}-\d{2}-\d{2}(?:[T ].*)?$/

/**
 * When a grant given `--expires <value>` lapses, ms since the epoch: a duration from now (`30m`,
 * `12h`, `90d`) or a date (`2027-01-31`, `2027-01-31T18:00:00Z`; a date alone is midnight UTC).
 * Throws an `Error` saying what is wrong.
 */
export function expiryOf(value: string, now: number = Date.now()): number {
  const text = value.trim()
  let at: number
  if (DURATION_WITH_UNIT.test(text)) at = now + parseDuration(text)
  else if (DATE.test(text)) {
    at = Date.parse(text)
    if (Number.isNaN(at)) throw new Error(`${JSON.stringify(value)} is not a date (such as 2027-01-31 or 2027-01-31T18:00:00Z)`)
  } else throw new Error(`${JSON.stringify(value)} is neither a duration with a unit (30m, 12h, 90d) nor a date (2027-01-31, 2027-01-31T18:00:00Z)`)
  if (at <= now) throw new Error(`${JSON.stringify(value)} is not in the future`)
  return at
}

/** The actions of `--actions read,execute`: comma-separated, blanks dropped. */
function actionsOf(value: string): string[] {
  return value
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '')
}

function expiryText(grant: GrantRecord): string {
  if (grant.expiresAt === undefined) return 'never'
  return grant.expired ? `${iso(grant.expiresAt)} (expired)` : iso(grant.expiresAt)
}

function describeGrant(grant: GrantRecord): string {
  const actions = grant.actions.join(',')
  if (grant.effect === 'deny') return `deny rule ${grant.id}: ${grant.subject} may not ${actions} on ${grant.resource}`
  return `grant ${grant.id}: ${grant.subject} may ${actions} on ${grant.resource} (${grant.expiresAt === undefined ? 'never expires' : `until ${iso(grant.expiresAt)}`})`
}

async function addCommand(context: CommandContext, command: Command, subject: string, resource: string, options: AddOptions): Promise<void> {
  const actions = actionsOf(options.actions)
  if (actions.length === 0) {
    command.error('error: --actions names no action; give a comma-separated list such as execute,read', { exitCode: ExitCode.usage, code: 'qflow.grant.noActions' })
  }
  let expiresAt: number | undefined
  if (options.expires !== undefined) {
    try {
      expiresAt = expiryOf(options.expires)
    } catch (err) {
      command.error(`error: --expires: ${(err as Error).message}`, { exitCode: ExitCode.usage, code: 'qflow.grant.badExpiry' })
    }
  }
  const output = context.output(command)
  const client = await requireClient(options, context.io)
  const grant = await client.grants.add({
    subject,
    resource,
    actions,
    ...(options.deny === true ? { effect: 'deny' as const } : {}),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(options.id === undefined ? {} : { id: options.id })
  })
  output.result(grant, () => describeGrant(grant))
}

/** Adds `qflow grant add|list|revoke`: the node's consent grants (who may do what on which resources). */
export function registerGrantCommands(program: Command, context: CommandContext): void {
  const grant = program
    .command('grant')
    .description("add, list and revoke the node's consent grants: which identity may do which actions on which resources")
    .addHelpText(
      'after',
      `
Every operation on a node passes Qonsent: the identity acting needs a grant of the action on
the resource (qflow:flow:<id>, qflow:execution:<id>, qflow:secret:<name>, qflow:node). On a
fresh node only the admin identity holds one (every action on qflow:**). A webhook run acts as
its flow's owner, so the owner needs execute on qflow:flow:<id>. These commands need a node
(--api, $QFLOW_API or "qflow login") and an identity with admin on qflow:node; the admin has it.

Examples:
  $ qflow grant add did:key:z6MkOwner… qflow:flow:webhook-echo --actions execute
  $ qflow grant add did:key:z6MkAda… 'qflow:flow:*' --actions read,execute --expires 90d
  $ qflow grant list --resource qflow:flow:webhook-echo
  $ qflow grant revoke 3f6c2a4e-…`
    )

  addApiOption(
    grant
      .command('add')
      .description('grant an identity actions on the resources a pattern matches (or, with --deny, add a deny rule)')
      .argument('<subject>', 'who: an identity (did:key:…), * (anyone), or a prefix ending in * (did:squid:alice:*)')
      .argument('<resource>', 'what: a resource pattern: qflow:flow:<id>, qflow:flow:* (one segment), qflow:** (everything under qflow:)')
      .requiredOption('--actions <list>', 'comma-separated actions: read, write, execute, admin (every action), * (every action)')
      .option('--expires <duration|date>', 'when the grant lapses: a duration from now (30m, 12h, 90d) or a date (2027-01-31, 2027-01-31T18:00:00Z); default never')
      .option('--deny', 'add a deny rule instead: it overrides every grant that would allow the same')
      .addOption(new Option('--id <id>', 'the grant id (letters, digits, ".", "_", ":", "@", "-"); default a random UUID. Ids are never reused'))
  )
    .addHelpText(
      'after',
      `
The grant is issued by the identity of the token (grantedBy), recorded durably on the node and
in effect at once: executions paused for lack of consent resume, webhooks to flows the subject
owns are accepted. Quote patterns with * for the shell. A lapsed grant stops allowing at its
expiry (its executions pause with CONSENT_EXPIRED, renewable by a new grant). A deny rule that
would take admin on qflow:node from the admin identity is refused (409 CONFLICT).
With --json, prints the grant: { id, subject, resource, actions, effect, expiresAt?, expired,
grantedBy, signed }.
${REMOTE_EXIT_HELP} A malformed subject, pattern or action exits 1 (VALIDATION_FAILED);
a bad --actions or --expires exits 2.
${REMOTE_ENV_HELP}

Examples:
  $ qflow grant add "$OWNER" qflow:flow:webhook-echo --actions execute
  $ qflow grant add did:key:z6MkAda… 'qflow:execution:*' --actions read --expires 2027-01-31
  $ qflow grant add '*' 'qflow:flow:prod-*' --actions execute --deny
  $ qflow --json grant add "$OWNER" qflow:flow:billing --actions execute --expires 12h | jq -r .id`
    )
    .action(async (subject: string, resource: string, options: AddOptions, command: Command) => addCommand(context, command, subject, resource, options))

  addApiOption(
    grant
      .command('list')
      .description("list the node's grants and deny rules, by id")
      .option('--subject <did>', 'only the grants that apply to this identity (exactly, through *, or through a prefix)')
      .option('--resource <resource>', 'only the grants whose pattern matches this resource (qflow:flow:welcome)')
      .addOption(new Option('--effect <effect>', 'only grants (allow) or only deny rules (deny)').choices(['allow', 'deny']))
      .option('--active', 'leave out grants that have expired')
  )
    .addHelpText(
      'after',
      `
Lists every page. Expired grants are kept (and listed, marked expired) for 30 days unless
--active. With --json, prints an array of grants ({ id, subject, resource, actions, effect,
expiresAt?, expired, grantedBy, signed }).
${REMOTE_EXIT_HELP}
${REMOTE_ENV_HELP}

Examples:
  $ qflow grant list
  $ qflow grant list --subject did:key:z6MkAda…
  $ qflow grant list --resource qflow:flow:webhook-echo --active
  $ qflow --json grant list --effect deny | jq -r '.[].id'`
    )
    .action(async (options: ListOptions, command: Command) => {
      const output = context.output(command)
      const client = await requireClient(options, context.io)
      const grants: GrantRecord[] = []
      for await (const g of client.grants.listAll({
        ...(options.subject === undefined ? {} : { subject: options.subject }),
        ...(options.resource === undefined ? {} : { resource: options.resource }),
        ...(options.effect === undefined ? {} : { effect: options.effect }),
        ...(options.active === true ? { includeExpired: false } : {}),
        limit: LIST_PAGE_LIMIT
      })) {
        grants.push(g)
      }
      output.result(grants, () =>
        grants.length === 0
          ? 'no grants'
          : renderTable(
              ['ID', 'SUBJECT', 'RESOURCE', 'ACTIONS', 'EFFECT', 'EXPIRES'],
              grants.map((g) => [g.id, g.subject, g.resource, g.actions.join(','), g.effect, expiryText(g)])
            )
      )
    })

  addApiOption(
    grant
      .command('revoke')
      .description('revoke a grant or deny rule by its id; in effect at once')
      .argument('<id>', 'the grant id (qflow grant list shows it)')
      .option('--reason <text>', 'why, recorded with the revocation')
  )
    .addHelpText(
      'after',
      `
What the grant allowed is refused from then on (WebSocket subscriptions relying on it end,
webhooks to flows whose owner relied on it answer 403). Ids are never reused. The
admin identity's own grant cannot be revoked (409 CONFLICT, exit 1). With --json, prints
{ id, revoked: true, grant }.
${REMOTE_EXIT_HELP} An id no live grant has exits 5.
${REMOTE_ENV_HELP}

Examples:
  $ qflow grant revoke 3f6c2a4e-…
  $ qflow grant revoke owner-runs-echo --reason "moved to another node"`
    )
    .action(async (id: string, options: RevokeOptions, command: Command) => {
      const output = context.output(command)
      const client = await requireClient(options, context.io)
      const result = await client.grants.revoke(id, options.reason)
      const g = result.grant
      output.result(result, () =>
        g.effect === 'deny'
          ? `deny rule ${g.id} revoked: ${g.subject} is no longer refused ${g.actions.join(',')} on ${g.resource}`
          : `grant ${g.id} revoked: ${g.subject} may no longer ${g.actions.join(',')} on ${g.resource}`
      )
    })
}
