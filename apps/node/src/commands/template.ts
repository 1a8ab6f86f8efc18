import { readdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { ExitCode } from '../constants.js'
import { InputError } from '../errors.js'
import type { CliIo } from '../io.js'
import type { NodeSandboxConfig } from '../node/sandbox-config.js'
import { TEMPLATE_ISSUERS_ENV } from '../node/sandbox-config.js'
import { renderTable } from '../output.js'
import type { CommandContext } from '../program.js'
import { describeError } from '../report.js'
import { addNodeOptions, NODE_ENV_HELP, type NodeCommandOptions, nodeConfig, withNode } from './node-options.js'

/** Errors of the template commands that come from bad input, reported without a stack trace. */
const TEMPLATE_ERRORS: ReadonlySet<string> = new Set([
  'InvalidAllowListError',
  'InvalidManifestError',
  'InvalidModuleError',
  'TemplateTamperedError',
  'TemplateNotApprovedError',
  'SandboxImportNotGrantedError'
])

interface ApproveOptions extends NodeCommandOptions {
  manifest?: string
  allowHost?: string[]
  examples?: boolean
}

const TEMPLATE_HELP = `
A template is a WebAssembly module named by its content hash (a CID) with a manifest. The node runs
only templates on its allow-list (<data-dir>/templates/allow-list.json), signed by the node's
admin identity (what "approve" signs with) or by a did:key listed in ${TEMPLATE_ISSUERS_ENV}.
Approved modules and manifests are kept in <data-dir>/templates as <cid>.wasm and
<cid>.manifest.json; a "qflow run" installs them when it starts. Flows call them with wasm.run
steps, by name@version or CID.`

/** The sandbox config of a template command: the trusted issuers from the environment. */
function sandboxConfigOf(io: CliIo): NodeSandboxConfig {
  const issuers = (io.env[TEMPLATE_ISSUERS_ENV] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  return issuers.length === 0 ? {} : { trustedIssuers: issuers }
}

/** Runs a template command, reporting the sandbox's input errors as one message and exit 1. */
async function reporting(context: CommandContext, command: Command, run: () => Promise<void>): Promise<void> {
  try {
    await run()
  } catch (err) {
    if (!(err instanceof Error) || !TEMPLATE_ERRORS.has(err.name)) throw err
    const report = describeError(err)
    const fields: Record<string, unknown> = {}
    for (const key of ['pointer', 'template', 'expected', 'actual', 'import'] as const) {
      const value = (err as unknown as Record<string, unknown>)[key]
      if (value !== undefined) fields[key] = value
    }
    context.output(command).error(report.message, { ...report.details, ...fields })
    context.outcome.exitCode = ExitCode.invalid
  }
}

async function readInputFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path)
  } catch (err) {
    throw new InputError(path, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

function grantsOf(entry: { hostFunctions?: readonly string[]; allowedHosts?: readonly string[] }): string {
  const grants = [...(entry.hostFunctions ?? []), ...(entry.allowedHosts ?? []).map((h) => `http:${h}`)]
  return grants.length === 0 ? '-' : grants.join(',')
}

/** Adds `qflow template …`: approve, revoke and list the WebAssembly templates a node may run. */
export function registerTemplateCommands(program: Command, context: CommandContext): void {
  const { io } = context
  const template = program
    .command('template')
    .description('approve, revoke and list the WebAssembly templates wasm.run steps may run')
    .addHelpText(
      'after',
      `${TEMPLATE_HELP}

Examples:
  $ qflow template approve --examples
  $ qflow template approve build/my-template.wasm --manifest build/my-template.manifest.json
  $ qflow template approve http-fetch.wasm --allow-host api.example.org
  $ qflow template list
  $ qflow template revoke json-transform@1.0.0`
    )

  const open = (options: NodeCommandOptions) => nodeConfig(options, io, { recover: false, sandbox: false })

  addNodeOptions(
    template
      .command('approve')
      .description('check templates, copy them into the data directory and sign them onto its allow-list')
      .argument('[wasm-files...]', 'compiled modules; each one\'s manifest is <name>.manifest.json beside it unless --manifest names it')
      .option('-m, --manifest <file>', 'the manifest of the (single) module given')
      .option('--allow-host <host>', 'hosts the templates may reach over HTTP (repeatable; replaces the manifest\'s allowedHosts)', (v: string, all: string[] = []) => [...all, v])
      .option('--examples', 'also approve the example templates shipped with @qflow/sandbox that need no network')
  )
    .addHelpText(
      'after',
      `
Each template is checked before anything is written: the manifest's shape, that the module's bytes
hash to the manifest's CID, that it imports only what its manifest grants, that it exports the
manifest's functions and compiles. Approving re-signs the whole allow-list with the admin identity;
an entry for the same name@version under another CID is replaced. A running node reads the list
when it starts.
${NODE_ENV_HELP}
  ${TEMPLATE_ISSUERS_ENV}          did:keys (comma-separated) whose allow-lists are accepted too

Examples:
  $ qflow template approve --examples
  $ qflow template approve build/resize.wasm --manifest build/resize.manifest.json
  $ qflow template approve http-fetch.wasm --allow-host api.example.org --allow-host '*.example.net'`
    )
    .action(async (files: string[], options: ApproveOptions, command: Command) => {
      const output = context.output(command)
      await reporting(context, command, async () => {
        if (files.length === 0 && options.examples !== true) throw new InputError('wasm-files', 'name a module to approve, or --examples')
        if (options.manifest !== undefined && files.length !== 1) throw new InputError('--manifest', '--manifest names the manifest of exactly one module')
        const sources: { wasm: string; manifest: string }[] = files.map((file) => {
          const wasm = resolve(io.cwd, file)
          return { wasm, manifest: options.manifest === undefined ? wasm.replace(/(\.wasm)?$/, '.manifest.json') : resolve(io.cwd, options.manifest) }
        })
        const skipped: string[] = []
        if (options.examples === true) {
          const { exampleTemplatesDir } = await import('@qflow/sandbox')
          const dir = exampleTemplatesDir()
          for (const name of (await readdir(dir)).filter((n) => n.endsWith('.wasm')).sort()) {
            const manifest = join(dir, name.replace(/\.wasm$/, '.manifest.json'))
            const hosts = (JSON.parse(await readFile(manifest, 'utf8')) as { allowedHosts?: string[] }).allowedHosts ?? []
            if (hosts.length > 0) skipped.push(name.replace(/\.wasm$/, ''))
            else sources.push({ wasm: join(dir, name), manifest })
          }
        }
        const templates: { manifest: unknown; bytes: Uint8Array }[] = []
        for (const source of sources) {
          const bytes = new Uint8Array(await readInputFile(source.wasm))
          let manifest: unknown
          try {
            manifest = JSON.parse((await readInputFile(source.manifest)).toString('utf8'))
          } catch (err) {
            if (err instanceof InputError) throw err
            throw new InputError(source.manifest, `${source.manifest} is not JSON: ${(err as Error).message}`)
          }
          if (options.allowHost !== undefined && typeof manifest === 'object' && manifest !== null) manifest = { ...manifest, allowedHosts: options.allowHost }
          templates.push({ manifest, bytes })
        }
        await withNode(open(options), async (node) => {
          const { approveTemplates, templatePaths, trustedTemplateIssuers } = await import('../node/sandbox.js')
          const config = sandboxConfigOf(io)
          const paths = templatePaths(node.dataDir, config)
          const { admin } = node.parts
          const result = await approveTemplates(paths, admin, trustedTemplateIssuers(admin, config), templates)
          output.result({ approved: result.approved, replaced: result.replaced, skipped, allowList: paths.allowList, issuer: admin.did }, () =>
            renderTable(
              ['TEMPLATE', 'CID', 'GRANTS'],
              result.approved.map((t) => [`${t.name}@${t.version}`, t.cid, grantsOf(t)])
            )
          )
          if (!output.json) {
            for (const old of result.replaced) io.stderr(`replaced ${old.name}@${old.version} (${old.cid})\n`)
            if (skipped.length > 0) io.stderr(`skipped ${skipped.join(', ')}: it reaches the network; approve it by path with --allow-host\n`)
            io.stderr(`${result.approved.length} approved in ${paths.allowList}, signed by ${admin.did}\n`)
          }
        })
      })
    })

  addNodeOptions(template.command('revoke').description('take a template off the allow-list and delete its files').argument('<template>', 'name@version or CID'))
    .addHelpText('after', `${NODE_ENV_HELP}\n\nExamples:\n  $ qflow template revoke csv@1.0.0`)
    .action(async (ref: string, options: NodeCommandOptions, command: Command) => {
      const output = context.output(command)
      await reporting(context, command, async () => {
        await withNode(open(options), async (node) => {
          const { revokeTemplate, templatePaths, trustedTemplateIssuers } = await import('../node/sandbox.js')
          const config = sandboxConfigOf(io)
          const { admin } = node.parts
          const removed = await revokeTemplate(templatePaths(node.dataDir, config), admin, trustedTemplateIssuers(admin, config), ref)
          if (removed.length === 0) {
            output.error(`no approved template is named ${ref}`, { ref })
            context.outcome.exitCode = ExitCode.invalid
            return
          }
          output.result({ revoked: removed }, () => removed.map((t) => `revoked ${t.name}@${t.version} (${t.cid})`).join('\n'))
        })
      })
    })

  addNodeOptions(template.command('list').description('list the approved templates and check their files (exit 1 if one is missing or tampered)'))
    .addHelpText('after', `${NODE_ENV_HELP}\n\nExamples:\n  $ qflow template list\n  $ qflow --json template list | jq -r '.templates[].cid'`)
    .action(async (options: NodeCommandOptions, command: Command) => {
      const output = context.output(command)
      await reporting(context, command, async () => {
        await withNode(open(options), async (node) => {
          const { checkTemplateFiles, loadAllowList, templatePaths, trustedTemplateIssuers } = await import('../node/sandbox.js')
          const config = sandboxConfigOf(io)
          const paths = templatePaths(node.dataDir, config)
          const { list } = await loadAllowList(paths, trustedTemplateIssuers(node.parts.admin, config))
          const states = await Promise.all((list?.templates ?? []).map((entry) => checkTemplateFiles(paths, entry)))
          output.result(
            {
              allowList: paths.allowList,
              issuer: list?.issuer ?? null,
              issuedAt: list?.issuedAt ?? null,
              templates: states.map((s) => ({ ...s.entry, status: s.status, ...(s.problem === undefined ? {} : { problem: s.problem }) }))
            },
            () =>
              states.length === 0
                ? 'no approved templates'
                : renderTable(
                    ['TEMPLATE', 'CID', 'GRANTS', 'STATUS'],
                    states.map((s) => [`${s.entry.name}@${s.entry.version}`, s.entry.cid, grantsOf(s.entry), s.problem === undefined ? s.status : `${s.status}: ${s.problem}`])
                  )
          )
          if (states.some((s) => s.status !== 'ok')) context.outcome.exitCode = ExitCode.invalid
        })
      })
    })
}
