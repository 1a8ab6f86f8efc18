import type { Command } from 'commander'
import { createQflowClient, normalizeApiUrl } from '../client/client.js'
import { ApiForbiddenError, ApiUnauthenticatedError } from '../client/errors.js'
import type { CommandContext } from '../program.js'
import { API_ENV, TOKEN_ENV } from './remote-constants.js'
import { credentialsPath, MissingTokenError, NodeNotConfiguredError, readCredentials, REMOTE_EXIT_HELP, removeCredentials, writeCredentials } from './remote-target.js'

interface LoginOptions {
  api?: string
  token?: string
  verify: boolean
}

/** The subject and expiry a token claims (read, not verified: the node verifies it), when it is an sQuid token. */
async function tokenFacts(token: string): Promise<{ subject?: string; expiresAt?: string; expired: boolean }> {
  try {
    const { decodeToken } = await import('@qflow/adapters-squid')
    const { claims } = decodeToken(token)
    return { subject: claims.sub, expiresAt: new Date(claims.exp * 1000).toISOString(), expired: claims.exp * 1000 <= Date.now() }
  } catch {
    return { expired: false }
  }
}

/** Adds `qflow login` and `qflow logout`: save (or forget) the node and token the commands use. */
export function registerLoginCommands(program: Command, context: CommandContext): void {
  program
    .command('login')
    .description('check a token against a node and save both, so that commands talk to that node')
    .option('--api <url>', `the node, e.g. http://127.0.0.1:7070 (default: $${API_ENV})`)
    .option('--token <token>', `the sQuid token ("-" reads it from standard input; default: $${TOKEN_ENV})`)
    .option('--no-verify', 'save without asking the node whether it accepts the token')
    .addHelpText(
      'after',
      `
The node is asked to list one flow with the token: a refused token (401) is not saved. A token
the node accepts but whose identity may not list flows (403) is saved, with a warning. The
login goes to $XDG_CONFIG_HOME/qflow/credentials.json (else ~/.config/qflow/credentials.json),
readable by you only (mode 0600); "qflow logout" removes it. A node started for the first time
prints its admin token, and this command line to use it.
${REMOTE_EXIT_HELP}

Examples:
  $ qflow login --api http://127.0.0.1:7070 --token eyJhbGciOiJFZERTQSIs…
  $ pass show qflow/admin | qflow login --api https://qflow.example.com --token -
  $ QFLOW_API=http://127.0.0.1:7070 QFLOW_TOKEN=eyJ… qflow login`
    )
    .action(async (options: LoginOptions, command: Command) => {
      const output = context.output(command)
      const { io } = context
      const rawApi = options.api ?? io.env[API_ENV]
      if (rawApi === undefined || rawApi.trim() === '') throw new NodeNotConfiguredError(`Which node? Pass --api <url> (or set ${API_ENV})`)
      const api = normalizeApiUrl(rawApi)
      let token = options.token ?? io.env[TOKEN_ENV]
      if (token === '-') token = (await io.readStdin()).trim()
      if (token === undefined || token.trim() === '') throw new MissingTokenError(api, `No token to log in to ${api} with: pass --token <token> (- reads standard input), or set ${TOKEN_ENV}`)
      token = token.trim()
      const facts = await tokenFacts(token)
      let warning: string | undefined
      if (options.verify) {
        const client = createQflowClient({ api, token })
        try {
          await client.flows.list({ limit: 1 })
        } catch (err) {
          if (!(err instanceof ApiForbiddenError)) throw err
          warning = `the node accepts the token, but its identity may not list flows (${err.message})`
        }
      }
      const { path } = await writeCredentials(io, {
        api,
        token,
        ...(facts.subject === undefined ? {} : { subject: facts.subject }),
        ...(facts.expiresAt === undefined ? {} : { expiresAt: facts.expiresAt })
      })
      if (facts.expired && warning === undefined) warning = `the token expired at ${facts.expiresAt}`
      output.result(
        {
          api,
          ...(facts.subject === undefined ? {} : { subject: facts.subject }),
          ...(facts.expiresAt === undefined ? {} : { expiresAt: facts.expiresAt }),
          verified: options.verify,
          credentials: path,
          ...(warning === undefined ? {} : { warning })
        },
        () =>
          `${options.verify ? 'logged in' : 'saved the login'} to ${api}${facts.subject === undefined ? '' : ` as ${facts.subject}`}${facts.expiresAt === undefined ? '' : ` (token expires ${facts.expiresAt})`}\nsaved to ${path}`
      )
      if (warning !== undefined && !output.json) io.stderr(`qflow: warning: ${warning}\n`)
    })

  program
    .command('logout')
    .description('forget the saved login; with --revoke, first have the node revoke its token')
    .option('--revoke', 'ask the node to revoke the saved token before forgetting it (otherwise it stays valid until it expires)')
    .addHelpText(
      'after',
      `
Removes $XDG_CONFIG_HOME/qflow/credentials.json (else ~/.config/qflow/credentials.json). Exits 0
also when there was no login. Without --revoke the token stays valid on the node until it
expires. With --revoke the node revokes it first (POST /api/v1/tokens/revocations); a node that
already refuses it (401) counts as done, and a node that cannot be reached keeps the login saved
(exit 6) so that you can try again.
${REMOTE_EXIT_HELP}

Examples:
  $ qflow logout
  $ qflow logout --revoke
  $ qflow --json logout | jq .loggedOut`
    )
    .action(async (options: { revoke?: boolean }, command: Command) => {
      const output = context.output(command)
      const path = credentialsPath(context.io)
      let revoked: boolean | undefined
      if (options.revoke === true) {
        const saved = await readCredentials(context.io)
        if (saved !== undefined) {
          try {
            await createQflowClient({ api: saved.api, token: saved.token }).tokens.revoke({ token: saved.token, reason: 'qflow logout --revoke' })
            revoked = true
          } catch (err) {
            if (!(err instanceof ApiUnauthenticatedError)) throw err
            revoked = false
          }
        }
      }
      const removed = await removeCredentials(context.io)
      output.result(
        { loggedOut: removed !== undefined, ...(removed === undefined ? {} : { api: removed.api }), credentials: path, ...(revoked === undefined ? {} : { revoked }) },
        () =>
          removed === undefined
            ? 'not logged in'
            : `logged out of ${removed.api} (removed ${path})${revoked === true ? '; the node revoked the token' : revoked === false ? '; the node already refused the token' : ''}`
      )
    })
}
