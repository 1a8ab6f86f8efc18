import type { Identity } from '@qflow/adapters-squid'
import { setTimeout as sleep } from 'node:timers/promises'
import { resolve } from 'node:path'
import { type Command, Option } from 'commander'
import type { TokenRevocationRecord } from '../client/types.js'
import { ExitCode } from '../constants.js'
import { formatDuration, parseDuration } from '../daemon/config.js'
import { readPrivateKey } from '../keys.js'
import { DATA_DIR_ENV, DATA_DIR_LAYOUT, DEFAULT_AUDIENCE, DEFAULT_DATA_DIR, PASSPHRASE_ENV } from '../node/constants.js'
import { iso, renderTable } from '../output.js'
import type { CommandContext } from '../program.js'
import { DEFAULT_MAX_BEARER_TOKEN_LIFETIME_MS } from '../server/constants.js'
import { addApiOption, REMOTE_ENV_HELP, REMOTE_EXIT_HELP, type RemoteCommandOptions, requireClient } from './remote-target.js'

/** Lifetime of a token `qflow token issue` makes when `--ttl` is not given. */
export const DEFAULT_ISSUED_TOKEN_TTL_MS = 60 * 60_000

interface IssueOptions {
  key?: string
  admin?: boolean
  dataDir?: string
  ttl?: string
  audience?: string
}

interface RevokeOptions extends RemoteCommandOptions {
  identity?: string
  before?: string
  reason?: string
}

/** What one revocation reads as, for people. */
export function describeRevocation(entry: TokenRevocationRecord): string {
  const why = entry.reason === undefined ? '' : ` (${entry.reason})`
  return entry.kind === 'identity'
    ? `every token of ${entry.identity} issued before ${iso(entry.before ?? entry.revokedAt)} is revoked${why}`
    : `token ${entry.nonce} of ${entry.issuer} is revoked until it expires at ${iso(entry.expiresAt ?? entry.revokedAt)}${why}`
}

/**
 * Waits, when needed, until a token issued now would not fall under an identity revocation of
 * `did` in the data directory: a token's `iat` counts whole seconds, so one issued in the second
 * of a cutoff counts as issued before it.
 */
async function pastRevocationCutoff(dataDir: string, did: string): Promise<void> {
  const { createTokenRevocationRegistry } = await import('@qflow/adapters-squid')
  const registry = await createTokenRevocationRegistry({ path: resolve(dataDir, DATA_DIR_LAYOUT.tokenRevocations) })
  const cut = registry.revocationOf({ issuer: did, subject: did, nonce: '-', issuedAt: Math.floor(Date.now() / 1000) * 1000 })
  if (cut === undefined || cut.kind !== 'identity') return
  const nextSecond = Math.floor(cut.before / 1000) * 1000 + 1000
  // A timer may fire a little early by the wall clock: wait until the clock says so.
  while (Date.now() < nextSecond) await sleep(nextSecond - Date.now())
}

async function issueCommand(context: CommandContext, command: Command, options: IssueOptions): Promise<void> {
  const { io } = context
  if ((options.key === undefined) === (options.admin !== true)) {
    command.error('error: say who signs: --key <keyfile> (your own identity) or --admin (the node admin, from the data directory)', {
      exitCode: ExitCode.usage,
      code: 'qflow.token.noSigner'
    })
  }
  let ttlMs = DEFAULT_ISSUED_TOKEN_TTL_MS
  if (options.ttl !== undefined) {
    try {
      ttlMs = parseDuration(options.ttl)
    } catch (err) {
      command.error(`error: --ttl: ${(err as Error).message}`, { exitCode: ExitCode.usage, code: 'qflow.token.badTtl' })
    }
    if (ttlMs < 1000 || ttlMs > DEFAULT_MAX_BEARER_TOKEN_LIFETIME_MS) {
      command.error(`error: --ttl: must be from 1s to ${formatDuration(DEFAULT_MAX_BEARER_TOKEN_LIFETIME_MS)}, not ${formatDuration(ttlMs)}`, {
        exitCode: ExitCode.usage,
        code: 'qflow.token.badTtl'
      })
    }
  }
  const output = context.output(command)
  const { decodeToken, importIdentity, issueToken } = await import('@qflow/adapters-squid')
  let signer: Identity
  if (options.key !== undefined) {
    const jwk = (await readPrivateKey(options.key, io)).export({ format: 'jwk' })
    signer = importIdentity(new Uint8Array(Buffer.from(String(jwk.d), 'base64url')))
  } else {
    const dataDir = resolve(io.cwd, options.dataDir ?? io.env[DATA_DIR_ENV] ?? DEFAULT_DATA_DIR)
    const { readNodeSecrets } = await import('../node/data-dir.js')
    const passphrase = io.env[PASSPHRASE_ENV]
    signer = (await readNodeSecrets(dataDir, passphrase === undefined || passphrase === '' ? undefined : passphrase)).admin
    await pastRevocationCutoff(dataDir, signer.did)
  }
  const audience = options.audience ?? DEFAULT_AUDIENCE
  const token = await issueToken(signer, { audience, ttlMs })
  const expiresAt = decodeToken(token).claims.exp * 1000
  output.result({ token, subject: signer.did, audience, expiresAt: iso(expiresAt) }, () => token)
  if (!output.json) io.stderr(`qflow: a token of ${signer.did} for ${audience}, valid until ${iso(expiresAt)}\n`)
}

async function revokeCommand(context: CommandContext, command: Command, token: string | undefined, options: RevokeOptions): Promise<void> {
  const { io } = context
  if ((token === undefined) === (options.identity === undefined)) {
    command.error('error: name what to revoke: a token (or "-" to read it from standard input), or --identity <did>', {
      exitCode: ExitCode.usage,
      code: 'qflow.token.nothingToRevoke'
    })
  }
  if (options.before !== undefined && options.identity === undefined) {
    command.error('error: --before goes with --identity', { exitCode: ExitCode.usage, code: 'qflow.token.beforeWithoutIdentity' })
  }
  let before: number | undefined
  if (options.before !== undefined) {
    before = Date.parse(options.before)
    if (Number.isNaN(before)) {
      command.error(`error: --before: ${JSON.stringify(options.before)} is not a date (such as 2027-01-31T18:00:00Z)`, { exitCode: ExitCode.usage, code: 'qflow.token.badBefore' })
    }
  }
  const output = context.output(command)
  const client = await requireClient(options, io)
  const reason = options.reason === undefined ? {} : { reason: options.reason }
  let entry: TokenRevocationRecord
  if (options.identity !== undefined) {
    entry = await client.tokens.revoke({ identity: options.identity, ...(before === undefined ? {} : { before }), ...reason })
  } else {
    const text = token === '-' ? (await io.readStdin()).trim() : (token as string).trim()
    if (text === '') {
      output.error('standard input held no token; nothing was revoked')
      context.outcome.exitCode = ExitCode.invalid
      return
    }
    entry = await client.tokens.revoke({ token: text, ...reason })
  }
  output.result(entry, () => describeRevocation(entry))
}

/** Adds `qflow token issue|revoke|revocations`: make bearer tokens, and take them back on a node. */
export function registerTokenCommands(program: Command, context: CommandContext): void {
  const token = program
    .command('token')
    .description('issue sQuid bearer tokens, and revoke them on a node')
    .addHelpText(
      'after',
      `
A bearer token is signed by an identity and names the node's audience ("qflow"); the node accepts
it until it expires, unless it is revoked there. "issue" signs one with your key, or with the
node's admin identity read from its data directory (to replace a lost or revoked admin token).
"revoke" asks a node to refuse one token, or every token an identity was issued so far, from now
on: the API answers 401 (details.reason TokenRevokedError) and WebSocket connections close.

Examples:
  $ qflow token issue --key me.pem --ttl 8h
  $ qflow token issue --admin --data-dir /var/lib/qflow --ttl 30d
  $ qflow token revoke "$LEAKED_TOKEN" --reason "pasted in a ticket"
  $ qflow token revoke --identity did:key:z6Mk… --reason "laptop stolen"
  $ qflow token revocations`
    )

  token
    .command('issue')
    .description('sign a bearer token with your key (--key) or the node admin identity (--admin) and print it')
    .addOption(new Option('--key <keyfile>', 'your ed25519 private key (PKCS#8 PEM, as qflow key generate writes)').conflicts('admin'))
    .addOption(new Option('--admin', "sign as the node's admin identity, read from the data directory (the node may be running)").conflicts('key'))
    .option('-d, --data-dir <dir>', `with --admin: the node's data directory (default: $${DATA_DIR_ENV}, else ${DEFAULT_DATA_DIR})`)
    .option('--ttl <duration>', `how long the token is valid: 30m, 8h, 90d (default ${formatDuration(DEFAULT_ISSUED_TOKEN_TTL_MS)}, at most ${formatDuration(DEFAULT_MAX_BEARER_TOKEN_LIFETIME_MS)})`)
    .option('--audience <audience>', `the audience the token names (default ${DEFAULT_AUDIENCE}, what nodes expect)`)
    .addHelpText(
      'after',
      `
Exactly one of --key and --admin. The token goes to standard output alone (capture it, or pipe it
to "qflow login --token -"); who it speaks for and until when go to standard error. Nothing is
stored. --admin reads the keystore of the data directory (${PASSPHRASE_ENV} opens a sealed one)
without stopping a node that runs on it; after "qflow token revoke --identity" of the admin, it waits
for the next second, so that the new token is not issued in the second the old ones were revoked in.
An identity other than the admin needs grants on the node to do anything ("qflow grant add").
With --json, prints { token, subject, audience, expiresAt }.

Exit codes: 0 issued, 1 the key or the data directory cannot be used, 2 usage error.

Examples:
  $ qflow token issue --key me.pem
  $ qflow token issue --key me.pem --ttl 8h | qflow login --api http://127.0.0.1:7070 --token -
  $ QFLOW_PASSPHRASE=… qflow token issue --admin -d /var/lib/qflow --ttl 30d`
    )
    .action(async (options: IssueOptions, command: Command) => issueCommand(context, command, options))

  addApiOption(
    token
      .command('revoke')
      .description('make a node refuse a token from now on, or every token an identity was issued so far')
      .argument('[token]', 'the token to revoke ("-" reads it from standard input)')
      .option('--identity <did>', 'revoke every token this identity signed, or that speaks for it, issued until now')
      .option('--before <date>', 'with --identity: only tokens issued before this time (ISO 8601, not in the future)')
      .option('--reason <text>', 'why, recorded with the revocation')
  )
    .addHelpText(
      'after',
      `
Exactly one of a token and --identity. Your own token and your own identity need no rights; any
other needs admin on qflow:node. The node keeps the revocation in its data directory
(token-revocations.json): a token until it expires, an identity for good (a later revocation of
it moves the cutoff forward). Tokens issued after the cutoff are accepted, except in the cutoff's
own second (a token's issue time counts whole seconds). Revoking the admin identity locks the
API out until a new admin token is issued on the node: qflow token issue --admin.
With --json, prints the revocation { kind, issuer, nonce, expiresAt | identity, before, revokedAt, reason, by }.
${REMOTE_EXIT_HELP}
${REMOTE_ENV_HELP}

Examples:
  $ qflow token revoke "$LEAKED_TOKEN" --reason "pasted in a ticket"
  $ pbpaste | qflow token revoke -
  $ qflow token revoke --identity did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK --reason "laptop stolen"`
    )
    .action(async (value: string | undefined, options: RevokeOptions, command: Command) => revokeCommand(context, command, value, options))

  addApiOption(token.command('revocations').description('list the token revocations in force on a node (needs admin on qflow:node)'))
    .addHelpText(
      'after',
      `
Identities first, then tokens not yet expired, each oldest first. With --json, prints
{ items: [{ kind, … }], total }.
${REMOTE_EXIT_HELP}
${REMOTE_ENV_HELP}

Examples:
  $ qflow token revocations
  $ qflow --json token revocations | jq -r '.items[] | select(.kind == "identity") | .identity'`
    )
    .action(async (options: RemoteCommandOptions, command: Command) => {
      const output = context.output(command)
      const client = await requireClient(options, context.io)
      const list = await client.tokens.revocations()
      output.result(list, () =>
        list.items.length === 0
          ? 'no token revocations'
          : renderTable(
              ['KIND', 'WHO', 'NONCE', 'CUTOFF / EXPIRES', 'REVOKED', 'BY', 'REASON'],
              list.items.map((e) => [
                e.kind,
                e.kind === 'identity' ? (e.identity ?? '') : (e.issuer ?? ''),
                e.nonce ?? '-',
                iso(e.kind === 'identity' ? (e.before ?? e.revokedAt) : (e.expiresAt ?? e.revokedAt)),
                iso(e.revokedAt),
                e.by ?? '-',
                e.reason ?? ''
              ])
            )
      )
    })
}
