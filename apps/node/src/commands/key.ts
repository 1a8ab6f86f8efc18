import type { KeyObject } from 'node:crypto'
import { didKeyFromPublicKey } from '@qflow/flow-schema'
import type { Command } from 'commander'
import { KEY_FILE_MODE } from '../constants.js'
import { publicKeyOf, readPrivateKey, writeNewPrivateKey } from '../keys.js'
import type { CommandContext } from '../program.js'

/** The `did:key` of an ed25519 private key's public half. */
export function didOfPrivateKey(privateKey: KeyObject): string {
  const jwk = publicKeyOf(privateKey).export({ format: 'jwk' })
  return didKeyFromPublicKey(new Uint8Array(Buffer.from(String(jwk.x), 'base64url')))
}

interface GenerateOptions {
  out: string
  force?: boolean
}

/** Adds `qflow key …`: make and inspect the ed25519 keys flows are signed with. */
export function registerKeyCommands(program: Command, context: CommandContext): void {
  const key = program
    .command('key')
    .description('make and inspect the ed25519 keys flows are signed with')
    .addHelpText(
      'after',
      `
Examples:
  $ qflow key generate --out me.pem
  $ qflow key did me.pem`
    )

  key
    .command('generate')
    .description(`write a new ed25519 private key (PKCS#8 PEM, mode ${KEY_FILE_MODE.toString(8).padStart(4, '0')}) and print its did:key`)
    .requiredOption('-o, --out <file>', 'where to write the private key')
    .option('-f, --force', 'replace the file if it exists')
    .addHelpText(
      'after',
      `
The file is what "openssl genpkey -algorithm ed25519" writes; either works with qflow flow sign.
An existing file is never replaced without --force.

Examples:
  $ qflow key generate --out ~/.qflow/me.pem
  $ qflow --json key generate --out me.pem | jq -r .did`
    )
    .action(async (options: GenerateOptions, command: Command) => {
      const output = context.output(command)
      const privateKey = await writeNewPrivateKey(options.out, context.io, options.force === true)
      const did = didOfPrivateKey(privateKey)
      output.result({ out: options.out, did }, () => did)
      if (!output.json) context.io.stderr(`wrote ${options.out}\n`)
    })

  key
    .command('did')
    .description('print the did:key of a private key file (the signer id its signatures carry)')
    .argument('<keyfile>', 'ed25519 private key, PKCS#8 PEM')
    .addHelpText(
      'after',
      `
Examples:
  $ qflow key did me.pem`
    )
    .action(async (file: string, _options: unknown, command: Command) => {
      const output = context.output(command)
      const did = didOfPrivateKey(await readPrivateKey(file, context.io))
      output.result({ file, did }, () => did)
    })
}
