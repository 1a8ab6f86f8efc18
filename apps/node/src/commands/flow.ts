import { resolve } from 'node:path'
import { ed25519Signer, ed25519Verifier, FlowSignatureError, type FlowVerifier, signFlow, verifyFlow } from '@qflow/flow-schema'
import type { Command } from 'commander'
import { ExitCode } from '../constants.js'
import { FlowFileError, OutputFileError } from '../errors.js'
import { collectFlowFiles, readFlowSource } from '../files.js'
import { checkFlowSource, type FlowFileReport, loadFlowFile } from '../flow-file.js'
import { readPrivateKey } from '../keys.js'
import { renderTable } from '../output.js'
import type { CommandContext } from '../program.js'
import { formatReportProblems } from '../report.js'
import { signedFlowText } from '../signed-text.js'
import { writeFailureReason, writeFileAtomic } from '../write.js'
import { registerDiffCommand } from './diff.js'

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`
}

async function validateCommand(context: CommandContext, command: Command, targets: string[]): Promise<void> {
  const output = context.output(command)
  const files = await collectFlowFiles(targets, context.io)
  const reports: FlowFileReport[] = []
  for (const file of files) {
    try {
      reports.push(checkFlowSource(await readFlowSource(file, context.io)).report)
    } catch (err) {
      if (!(err instanceof FlowFileError)) throw err
      reports.push({
        file,
        valid: false,
        errors: [{ severity: 'error', pointer: '', code: 'unreadable-file', message: err.message, line: 1, column: 1 }],
        warnings: []
      })
    }
  }
  const invalid = reports.filter((report) => !report.valid).length
  const errors = reports.reduce((sum, report) => sum + report.errors.length, 0)
  const warnings = reports.reduce((sum, report) => sum + report.warnings.length, 0)
  if (invalid > 0) context.outcome.exitCode = ExitCode.invalid
  const summary = { files: reports.length, valid: reports.length - invalid, invalid, errors, warnings }
  output.result({ valid: invalid === 0, summary, files: reports }, () => {
    const lines = reports.flatMap(formatReportProblems)
    const table = renderTable(
      ['FILE', 'RESULT', 'ERRORS', 'WARNINGS', 'FLOW'],
      reports.map((report) => [
        report.file,
        report.valid ? 'valid' : 'invalid',
        String(report.errors.length),
        String(report.warnings.length),
        report.id === undefined ? '' : `${report.id}@${report.version ?? '?'}`
      ]),
      { alignRight: [2, 3] }
    )
    const verdict =
      invalid === 0
        ? `${plural(reports.length, 'file')} valid (${plural(warnings, 'warning')})`
        : `${invalid} of ${plural(reports.length, 'file')} invalid (${plural(errors, 'error')}, ${plural(warnings, 'warning')})`
    return `${lines.length > 0 ? `${lines.join('\n')}\n\n` : ''}${table}\n${verdict}`
  })
}

async function hashCommand(context: CommandContext, command: Command, file: string): Promise<void> {
  const output = context.output(command)
  const { flow, report } = await loadFlowFile(file, context.io)
  output.result({ file, id: flow.id, version: flow.version, hash: report.hash }, () => report.hash ?? '')
}

interface SignOptions {
  key: string
  out?: string
  timestamp: boolean
}

async function signCommand(context: CommandContext, command: Command, file: string, options: SignOptions): Promise<void> {
  const output = context.output(command)
  const { source, flow } = await loadFlowFile(file, context.io)
  const signer = ed25519Signer(await readPrivateKey(options.key, context.io))
  const signed = await signFlow(flow, signer, options.timestamp ? {} : { signedAt: false })
  const text = signedFlowText(source, signed)
  const signature = signed.signature
  const facts = { file, signer: signer.did, hash: signature?.hash, signerIsOwner: signer.did === flow.owner }
  if (options.out === undefined) {
    if (output.json) output.result({ ...facts, flow: signed }, () => '')
    else context.io.stdout(text)
    return
  }
  try {
    await writeFileAtomic(resolve(context.io.cwd, options.out), text)
  } catch (err) {
    throw new OutputFileError(options.out, `Cannot write ${options.out}: ${writeFailureReason(err)}`, { cause: err })
  }
  output.result({ ...facts, out: options.out }, () => {
    const owner = facts.signerIsOwner ? '' : ` (not the owner ${flow.owner})`
    return `signed ${file} as ${signer.did}${owner}\nhash ${facts.hash}\nwrote ${options.out}`
  })
}

interface VerifyOptions {
  signer?: string[]
}

/** A verifier that accepts only the listed signers (others get `unknown-signer`). */
function restrictedVerifier(inner: FlowVerifier, accepted: readonly string[]): FlowVerifier {
  return {
    verify: async (did, bytes, signature) => {
      if (!accepted.includes(did)) {
        throw new FlowSignatureError('unknown-signer', `signer ${did} is not one of the accepted signers (--signer)`, { signer: did })
      }
      return inner.verify(did, bytes, signature)
    }
  }
}

async function verifyCommand(context: CommandContext, command: Command, file: string, options: VerifyOptions): Promise<void> {
  const output = context.output(command)
  const { flow, report } = await loadFlowFile(file, context.io)
  const accepted = options.signer ?? []
  const verifier = accepted.length === 0 ? ed25519Verifier() : restrictedVerifier(ed25519Verifier(), accepted)
  const result = await verifyFlow(flow, verifier)
  if (result.valid) {
    output.result({ file, ...result }, () => {
      const owner = result.signerIsOwner ? ' (the owner)' : ` (not the owner ${flow.owner})`
      return `${file}: valid signature by ${result.signer}${owner}\nhash ${result.hash}${result.signedAt === undefined ? '' : `\nsigned at ${result.signedAt}`}`
    })
    return
  }
  context.outcome.exitCode = ExitCode.invalid
  const value = { file, valid: false, reason: result.reason, message: result.error.message, signer: result.signer, hash: report.hash }
  if (output.json) output.result(value, () => '')
  else output.error(`${file}: invalid signature (${result.reason}): ${result.error.message}`)
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

/** Adds `qflow flow …`: validate, hash, sign, verify and diff flow documents. */
export function registerFlowCommands(program: Command, context: CommandContext): void {
  const flow = program
    .command('flow')
    .description('validate, hash, sign, verify and diff flow documents (JSON or YAML)')
    .addHelpText(
      'after',
      `
Examples:
  $ qflow flow validate examples/flows
  $ qflow flow hash flow.yaml
  $ qflow flow sign flow.yaml --key me.pem --out flow.signed.yaml
  $ qflow flow verify flow.signed.yaml
  $ qflow flow diff v1.yaml v2.yaml`
    )

  flow
    .command('validate')
    .description('check flow files against the flow schema and graph rules; directories are searched for *.json, *.yaml and *.yml')
    .argument('<file...>', 'flow files or directories (- reads standard input)')
    .addHelpText(
      'after',
      `
Each problem prints as one line an editor can jump to:
  file:line:column severity pointer code message
where pointer is the JSON pointer of the offending value (# is the whole document).
Exits 1 when any file is invalid; warnings alone do not fail.

Examples:
  $ qflow flow validate flow.yaml
  $ qflow flow validate examples/flows other/flow.json
  $ cat flow.json | qflow flow validate -
  $ qflow --json flow validate examples/flows | jq '.summary'`
    )
    .action(async (targets: string[], _options: unknown, command: Command) => validateCommand(context, command, targets))

  flow
    .command('hash')
    .description('print the flow hash: a CIDv1 over the RFC 8785 canonical JSON of the flow, without its signature')
    .argument('<file>', 'flow file (- reads standard input)')
    .addHelpText(
      'after',
      `
The hash is the same whatever the format (JSON or YAML), key order, whitespace or signature.

Examples:
  $ qflow flow hash flow.yaml
  $ qflow --json flow hash flow.json`
    )
    .action(async (file: string, _options: unknown, command: Command) => hashCommand(context, command, file))

  flow
    .command('sign')
    .description('sign a flow with an ed25519 key; writes the signed flow in the input format (YAML stays YAML)')
    .argument('<file>', 'flow file (- reads standard input)')
    .requiredOption('-k, --key <keyfile>', 'ed25519 private key, PKCS#8 PEM (qflow key generate, or openssl genpkey -algorithm ed25519)')
    .option('-o, --out <file>', 'write the signed flow here instead of to standard output')
    .option('--no-timestamp', 'leave signedAt out of the signature block')
    .addHelpText(
      'after',
      `
The signature covers the flow without its signature block; an existing signature is replaced.
YAML comments and layout are kept.

Examples:
  $ qflow key generate --out me.pem
  $ qflow flow sign flow.yaml --key me.pem --out flow.signed.yaml
  $ qflow flow sign flow.json -k me.pem > flow.signed.json`
    )
    .action(async (file: string, options: SignOptions, command: Command) => signCommand(context, command, file, options))

  flow
    .command('verify')
    .description("check a flow's signature; exits 0 when it holds, 1 when it does not (with the reason)")
    .argument('<file>', 'signed flow file (- reads standard input)')
    .option('-s, --signer <did>', 'accept only this signer (repeat for several)', collect)
    .addHelpText(
      'after',
      `
Reasons a signature does not hold: missing, malformed, hash-mismatch (the flow changed after
signing), bad-signature, unknown-signer (no key for the signer, or not an accepted --signer).
A valid signature only says who signed: check the signer (or pass --signer) before trusting it.

Examples:
  $ qflow flow verify flow.signed.yaml
  $ qflow flow verify flow.signed.yaml --signer did:key:z6Mk...`
    )
    .action(async (file: string, options: VerifyOptions, command: Command) => verifyCommand(context, command, file, options))

  registerDiffCommand(flow, context)
}
