import { type Command, Option } from 'commander'
import { ExitCode } from '../constants.js'
import { iso, renderTable } from '../output.js'
import type { CommandContext } from '../program.js'
import type { QflowClient } from '../client/client.js'
import { addApiOption, REMOTE_ENV_HELP, REMOTE_EXIT_HELP, type RemoteCommandOptions, requireClient } from './remote-target.js'

interface SetOptions extends RemoteCommandOptions {
  valueStdin?: boolean
  generate?: boolean
  generateKeyPair?: boolean
}

/** The value piped in, without the line break(s) `echo` and editors leave at its end. */
function stdinValue(text: string): string {
  return text.replace(/[\r\n]+$/, '')
}

async function setCommand(context: CommandContext, command: Command, name: string, options: SetOptions): Promise<void> {
  if (options.valueStdin !== true && options.generate !== true && options.generateKeyPair !== true) {
    command.error(
      'error: say where the value comes from: --value-stdin (read it from standard input), --generate (a new Standard Webhooks secret) or --generate-key-pair (a new v1a key pair)',
      { exitCode: ExitCode.usage, code: 'qflow.secret.noValue' }
    )
  }
  const output = context.output(command)
  const client = await requireClient(options, context.io)
  if (options.generateKeyPair === true) return setKeyPair(context, command, client, name)
  let value: string
  if (options.generate === true) {
    const { generateStandardWebhooksSecret } = await import('@qflow/webhooks')
    value = generateStandardWebhooksSecret()
  } else {
    value = stdinValue(await context.io.readStdin())
    if (value === '') {
      output.error(`standard input held no value for the secret ${name}; nothing was stored`, { name })
      context.outcome.exitCode = ExitCode.invalid
      return
    }
  }
  const stored = await client.secrets.set(name, value)
  const generated = options.generate === true
  output.result({ ...stored, ...(generated ? { value } : {}) }, () => {
    if (generated) return value
    return stored.created ? `secret ${name} stored` : `secret ${name} replaced: senders signing with the old value are refused from now on`
  })
  if (generated && !output.json) {
    context.io.stderr(
      `qflow: secret ${name} ${stored.created ? 'stored' : 'replaced (the old value no longer verifies)'}. The value above is printed this once and\n` +
        "kept only sealed on the node: give it to the webhook's sender now (it signs with it).\n"
    )
  }
}

/**
 * `secret set --generate-key-pair`: a new Standard Webhooks ed25519 key pair; the node keeps the
 * public key (`whpk_`, which verifies `v1a` signatures), the sender gets the secret key once.
 */
async function setKeyPair(context: CommandContext, command: Command, client: QflowClient, name: string): Promise<void> {
  const output = context.output(command)
  const { generateStandardWebhooksKeyPair } = await import('@qflow/webhooks')
  const { secretKey, publicKey } = generateStandardWebhooksKeyPair()
  const stored = await client.secrets.set(name, publicKey)
  output.result({ ...stored, publicKey, secretKey }, () => secretKey)
  if (!output.json) {
    context.io.stderr(
      `qflow: secret ${name} ${stored.created ? 'stored' : 'replaced (the old value no longer verifies)'}: the node keeps the public key ${publicKey}.\n` +
        "The secret key above is printed this once and kept nowhere: give it to the webhook's sender now (it signs v1a with it).\n"
    )
  }
}

/** Adds `qflow secret set|list|delete`: the node's named secrets that webhook triggers' `auth.secretRef` names. */
export function registerSecretCommands(program: Command, context: CommandContext): void {
  const secret = program
    .command('secret')
    .description("store, list and delete the node's named secrets (the signing secrets webhook triggers name in auth.secretRef)")
    .addHelpText(
      'after',
      `
A webhook trigger names its signing secret (auth.secretRef); the node looks the value up in its
secret store, sealed at rest with the node's keys. Values go in and are never answered back:
"list" shows names and times only. Needs a node (--api, $QFLOW_API or "qflow login") and an
identity with write (set, delete) or read (list) on qflow:secret:<name>; the admin has both.

Examples:
  $ qflow secret set webhook-echo-secret --generate
  $ printf %s "$GITHUB_WEBHOOK_SECRET" | qflow secret set github-push --value-stdin
  $ qflow secret list
  $ qflow secret delete webhook-echo-secret`
    )

  addApiOption(
    secret
      .command('set')
      .description('store a secret under a name (replacing the value there): read from standard input, or a new Standard Webhooks secret')
      .argument('<name>', 'the secret name: a letter or digit, then letters, digits, ".", "_" or "-" (at most 128)')
      .addOption(
        new Option('--value-stdin', 'read the value from standard input (trailing line breaks dropped); never put it on the command line').conflicts(['generate', 'generateKeyPair'])
      )
      .addOption(
        new Option('--generate', 'make a new Standard Webhooks secret (whsec_ and 32 random bytes, base64), store it and print it this once').conflicts([
          'valueStdin',
          'generateKeyPair'
        ])
      )
      .addOption(
        new Option(
          '--generate-key-pair',
          'make a new Standard Webhooks ed25519 key pair (v1a): store the public key (whpk_), print the secret key (whsk_) this once'
        ).conflicts(['valueStdin', 'generate'])
      )
  )
    .addHelpText(
      'after',
      `
Exactly one of --value-stdin, --generate and --generate-key-pair. With --generate the value is
printed on standard output (alone: it can be captured), once: the node keeps it sealed and never
answers it back. With --generate-key-pair the node keeps the public key (whpk_: its triggers
then verify v1a, ed25519, signatures) and the secret key (whsk_) is printed on standard output
once, for the sender: the node never holds it. With --json, prints { name, createdAt,
updatedAt, created } (and value with --generate; publicKey and secretKey with
--generate-key-pair); created is false when an existing value was replaced, after which senders
signing with the old one are refused. Values are 1 to 8 KiB of text; a Standard Webhooks trigger
needs a whsec_ secret (or bare base64) for v1 or a whpk_ public key for v1a, a GitHub trigger the
text typed into GitHub's webhook settings.
${REMOTE_EXIT_HELP}
${REMOTE_ENV_HELP}

Examples:
  $ qflow secret set webhook-echo-secret --generate
  $ secret=$(qflow secret set webhook-echo-secret --generate 2>/dev/null)
  $ signing_key=$(qflow secret set partner-v1a --generate-key-pair 2>/dev/null)
  $ printf %s "$GITHUB_WEBHOOK_SECRET" | qflow secret set github-push --value-stdin
  $ qflow --json secret set helpdesk-webhook-secret --generate | jq -r .value`
    )
    .action(async (name: string, options: SetOptions, command: Command) => setCommand(context, command, name, options))

  addApiOption(secret.command('list').description('list the secrets stored on the node: names and times, never values'))
    .addHelpText(
      'after',
      `
Lists the secrets the identity may read (qflow:secret:<name>), by name. With --json, prints an
array of { name, createdAt, updatedAt } (ms since the epoch).
${REMOTE_EXIT_HELP}
${REMOTE_ENV_HELP}

Examples:
  $ qflow secret list
  $ qflow --json secret list | jq -r '.[].name'`
    )
    .action(async (options: RemoteCommandOptions, command: Command) => {
      const output = context.output(command)
      const client = await requireClient(options, context.io)
      const secrets = await client.secrets.list()
      output.result(secrets, () =>
        secrets.length === 0
          ? 'no secrets'
          : renderTable(
              ['NAME', 'CREATED', 'UPDATED'],
              secrets.map((s) => [s.name, iso(s.createdAt), iso(s.updatedAt)])
            )
      )
    })

  addApiOption(secret.command('delete').description('delete a secret from the node; webhook triggers naming it are refused until it is stored again').argument('<name>', 'the secret name'))
    .addHelpText(
      'after',
      `
Webhooks to a trigger naming a deleted secret answer 500 WEBHOOK_MISCONFIGURED (nothing starts)
until a value is stored under that name again. With --json, prints { name, deleted: true }.
${REMOTE_EXIT_HELP} A name the node does not hold exits 5.
${REMOTE_ENV_HELP}

Examples:
  $ qflow secret delete webhook-echo-secret
  $ qflow --json secret delete old-hook | jq .deleted`
    )
    .action(async (name: string, options: RemoteCommandOptions, command: Command) => {
      const output = context.output(command)
      const client = await requireClient(options, context.io)
      const result = await client.secrets.delete(name)
      output.result(result, () => `secret ${result.name} deleted: webhook triggers naming it are refused until it is stored again`)
    })
}
