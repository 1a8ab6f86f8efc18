import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Action, ActionContext } from '@qflow/scheduler'
import {
  type AllowList,
  type AllowListSigner,
  type ApprovedTemplate,
  InvalidAllowListError,
  parseManifest,
  type Sandbox,
  type SignedAllowList,
  sandbox,
  signAllowList,
  type TemplateManifest,
  TemplateTamperedError,
  templateCid,
  verifyAllowList,
  type WasmRunParams,
  wasmRunAction
} from '@qflow/sandbox'
import { ALLOW_LIST_FILE, type NodeSandboxConfig, TEMPLATES_DIR } from './sandbox-config.js'

/**
 * Thrown when an approved template cannot be installed from the templates directory: its module
 * or manifest file is missing or unreadable. (A module whose bytes changed after approval gives
 * `TemplateTamperedError`.)
 */
export class TemplateUnavailableError extends Error {
  static override readonly name = 'TemplateUnavailableError'
  override readonly name = 'TemplateUnavailableError'
  readonly retryable = false
  /** The template (CID or `name@version`). */
  readonly template: string
  /** The file that is missing or unreadable. */
  readonly path: string
  constructor(template: string, path: string, reason: string) {
    super(`Template ${template} is approved but cannot be installed: ${path}: ${reason}`)
    this.template = template
    this.path = path
  }
}

/** Where a node keeps its templates and their allow-list. */
export interface TemplatePaths {
  /** The templates directory. */
  readonly dir: string
  /** The signed allow-list file. */
  readonly allowList: string
  /** A template's module file. */
  module(cid: string): string
  /** A template's manifest file. */
  manifest(cid: string): string
}

/** The template paths of a data directory under a config. */
export function templatePaths(dataDir: string, config: NodeSandboxConfig = {}): TemplatePaths {
  const dir = resolve(dataDir, config.templatesDir ?? TEMPLATES_DIR)
  return {
    dir,
    allowList: resolve(dir, config.allowListFile ?? ALLOW_LIST_FILE),
    module: (cid) => join(dir, `${cid}.wasm`),
    manifest: (cid) => join(dir, `${cid}.manifest.json`)
  }
}

/** The issuers a node accepts allow-lists from: its admin identity, then the configured ones. */
export function trustedTemplateIssuers(admin: { readonly did: string }, config: NodeSandboxConfig = {}): string[] {
  return [admin.did, ...(config.trustedIssuers ?? []).filter((did) => did !== admin.did)]
}

function missing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}

/**
 * Reads the allow-list file as it is (not verified): undefined when there is none.
 *
 * @throws {@link InvalidAllowListError} when it is not JSON.
 */
export async function readAllowListText(paths: TemplatePaths): Promise<unknown> {
  let text: string
  try {
    text = await readFile(paths.allowList, 'utf8')
  } catch (err) {
    if (missing(err)) return undefined
    throw new InvalidAllowListError('', `cannot read ${paths.allowList}: ${(err as Error).message}`)
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new InvalidAllowListError('', `${paths.allowList} is not JSON: ${(err as Error).message}`)
  }
}

/** Reads and verifies the allow-list (an empty list when there is no file). */
export async function loadAllowList(paths: TemplatePaths, trusted: readonly string[]): Promise<{ signed: SignedAllowList | undefined; list: AllowList | undefined }> {
  const signed = await readAllowListText(paths)
  if (signed === undefined) return { signed: undefined, list: undefined }
  return { signed: signed as SignedAllowList, list: verifyAllowList(signed, trusted) }
}

async function writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`
  await writeFile(temp, data, { mode: 0o644 })
  await rename(temp, path)
}

/** A template to approve: its manifest and module bytes. */
export interface TemplateFiles {
  /** The manifest (its `module` must be the bytes' CID). */
  readonly manifest: unknown
  /** The module bytes. */
  readonly bytes: Uint8Array
}

/** What approving changed. */
export interface ApprovalResult {
  /** The entries now approved for the given templates. */
  readonly approved: readonly ApprovedTemplate[]
  /** Entries of the same `name@version` under another CID that the new ones replaced. */
  readonly replaced: readonly ApprovedTemplate[]
  /** The allow-list written. */
  readonly allowList: SignedAllowList
}

/**
 * Approves templates on a node: checks each (manifest shape, CID of the bytes, imports granted,
 * exports present, compiles — with a throwaway sandbox that starts no worker), stores it in the
 * templates directory as `<cid>.wasm` and `<cid>.manifest.json`, and writes the allow-list with
 * the templates added, re-signed by `signer` (the node's admin identity). An entry for the same
 * `name@version` under another CID is replaced. The existing list must verify against `trusted`.
 *
 * @throws `InvalidManifestError`, `TemplateTamperedError`, `SandboxImportNotGrantedError`,
 *   `InvalidModuleError`, `InvalidAllowListError`.
 */
export async function approveTemplates(
  paths: TemplatePaths,
  signer: AllowListSigner,
  trusted: readonly string[],
  templates: readonly TemplateFiles[]
): Promise<ApprovalResult> {
  const { list } = await loadAllowList(paths, trusted)
  const manifests: TemplateManifest[] = []
  for (const t of templates) {
    const manifest = parseManifest(t.manifest)
    const actual = await templateCid(t.bytes)
    if (actual !== manifest.module) throw new TemplateTamperedError(manifest.module, actual)
    manifests.push(manifest)
  }
  const approved: ApprovedTemplate[] = manifests.map((m) => ({
    cid: m.module,
    name: m.name,
    version: m.version,
    ...(m.hostFunctions === undefined || m.hostFunctions.length === 0 ? {} : { hostFunctions: m.hostFunctions }),
    ...(m.allowedHosts === undefined || m.allowedHosts.length === 0 ? {} : { allowedHosts: m.allowedHosts })
  }))
  const added = new Set(approved.map((a) => a.cid))
  const names = new Set(approved.map((a) => `${a.name}@${a.version}`))
  const kept: ApprovedTemplate[] = []
  const replaced: ApprovedTemplate[] = []
  for (const entry of list?.templates ?? []) {
    if (added.has(entry.cid)) continue
    if (names.has(`${entry.name}@${entry.version}`)) replaced.push(entry)
    else kept.push(entry)
  }
  const next: AllowList = { v: 1, issuer: signer.did, issuedAt: new Date().toISOString(), templates: [...kept, ...approved] }
  const signed = await signAllowList(next, signer)

  // Dry run: the templates install into a sandbox under the new list (no worker is started).
  const check = sandbox({ trustedIssuers: [signer.did], spareWorkers: 0, warmInstances: 0 })({ allowList: signed })
  await check.start()
  try {
    for (const [i, t] of templates.entries()) await check.install(manifests[i], t.bytes)
  } finally {
    await check.stop()
  }

  await mkdir(paths.dir, { recursive: true, mode: 0o700 })
  for (const [i, t] of templates.entries()) {
    const manifest = manifests[i] as TemplateManifest
    await writeAtomically(paths.module(manifest.module), t.bytes)
    await writeAtomically(paths.manifest(manifest.module), `${JSON.stringify(manifest, null, 2)}\n`)
  }
  await writeAtomically(paths.allowList, `${JSON.stringify(signed, null, 2)}\n`)
  for (const old of replaced) await removeTemplateFiles(paths, old.cid)
  return { approved, replaced, allowList: signed }
}

/**
 * Revokes the templates a reference names (a CID or `name@version`): re-signs the allow-list
 * without them and deletes their files. Resolves with the entries removed (none if nothing matched).
 */
export async function revokeTemplate(paths: TemplatePaths, signer: AllowListSigner, trusted: readonly string[], ref: string): Promise<ApprovedTemplate[]> {
  const { list } = await loadAllowList(paths, trusted)
  const templates = list?.templates ?? []
  const removed = templates.filter((t) => t.cid === ref || `${t.name}@${t.version}` === ref)
  if (removed.length === 0) return []
  const next: AllowList = { v: 1, issuer: signer.did, issuedAt: new Date().toISOString(), templates: templates.filter((t) => !removed.includes(t)) }
  await writeAtomically(paths.allowList, `${JSON.stringify(await signAllowList(next, signer), null, 2)}\n`)
  for (const t of removed) await removeTemplateFiles(paths, t.cid)
  return removed
}

async function removeTemplateFiles(paths: TemplatePaths, cid: string): Promise<void> {
  await rm(paths.module(cid), { force: true })
  await rm(paths.manifest(cid), { force: true })
}

/** The state of one approved template's files. */
export interface TemplateFileState {
  /** The approval. */
  readonly entry: ApprovedTemplate
  /** `ok`, or what is wrong with its files (`missing`: a file is absent; `tampered`: the bytes hash to another CID; `invalid`: the manifest is unreadable or is not the approved one). */
  readonly status: 'ok' | 'missing' | 'tampered' | 'invalid'
  /** What is wrong, when it is not `ok`. */
  readonly problem?: string
}

/** Checks an approved template's files: present, hashing to its CID, with a manifest for it. */
export async function checkTemplateFiles(paths: TemplatePaths, entry: ApprovedTemplate): Promise<TemplateFileState> {
  let bytes: Uint8Array
  let text: string
  try {
    bytes = new Uint8Array(await readFile(paths.module(entry.cid)))
    text = await readFile(paths.manifest(entry.cid), 'utf8')
  } catch (err) {
    return { entry, status: missing(err) ? 'missing' : 'invalid', problem: (err as Error).message }
  }
  const actual = await templateCid(bytes)
  if (actual !== entry.cid) return { entry, status: 'tampered', problem: `the module hashes to ${actual}` }
  try {
    const manifest = parseManifest(JSON.parse(text))
    if (manifest.module !== entry.cid || manifest.name !== entry.name || manifest.version !== entry.version) {
      return { entry, status: 'invalid', problem: `the manifest is for ${manifest.name}@${manifest.version} (${manifest.module})` }
    }
  } catch (err) {
    return { entry, status: 'invalid', problem: (err as Error).message }
  }
  return { entry, status: 'ok' }
}

/** A node's sandbox, its `wasm.run` action, and the approved templates it could not install. */
export interface NodeSandbox {
  /** The running sandbox. */
  readonly sandbox: Sandbox
  /**
   * `wasm.run`: installs an approved template on the first step that names it, then runs it; a
   * step naming an approved template that cannot be installed fails with that template's error.
   */
  readonly action: Action<WasmRunParams, unknown>
  /** Errors of the approved templates that could not be installed (so far), by CID. */
  readonly unavailable: ReadonlyMap<string, Error>
}

/** What {@link openNodeSandbox} needs. */
export interface NodeSandboxInit {
  /** The data directory (absolute). */
  readonly dataDir: string
  /** The node's admin identity (trusted to sign the allow-list). */
  readonly admin: AllowListSigner
  /** The sandbox section of the node config. */
  readonly config?: NodeSandboxConfig
  /** The node's `allowPrivateNetworks`, the default of templates' HTTP. */
  readonly allowPrivateNetworks?: readonly string[]
  /** Told of each approved template that could not be installed. */
  readonly onError?: (template: string, error: unknown) => void
}

/**
 * Starts a node's sandbox: reads and verifies the allow-list (none: nothing is approved; one that
 * does not verify: {@link InvalidAllowListError}, the node does not start). Each approved
 * template is installed from the templates directory (hash checked, imports checked, compiled) on
 * the first step that names it, or at once with `preload`; its workers start on its first call.
 */
export async function openNodeSandbox(init: NodeSandboxInit): Promise<NodeSandbox> {
  const config = init.config ?? {}
  const paths = templatePaths(init.dataDir, config)
  const trusted = trustedTemplateIssuers(init.admin, config)
  const loaded = await loadAllowList(paths, trusted)
  const signed = loaded.signed ?? (await signAllowList({ v: 1, issuer: init.admin.did, issuedAt: new Date().toISOString(), templates: [] }, init.admin))
  const approved = loaded.list?.templates ?? []
  const allowPrivateNetworks = config.http?.allowPrivateNetworks ?? init.allowPrivateNetworks
  const box = sandbox({
    trustedIssuers: trusted,
    warmInstances: 0,
    spareWorkers: config.preload === true && approved.length > 0 ? 1 : 0,
    ...(config.limits === undefined ? {} : { limits: config.limits }),
    ...(config.poolSize === undefined ? {} : { poolSize: config.poolSize }),
    http: { ...config.http, ...(allowPrivateNetworks === undefined ? {} : { allowPrivateNetworks }) }
  })({ allowList: signed })
  await box.start()

  const byRef = new Map<string, ApprovedTemplate>()
  for (const entry of approved) byRef.set(entry.cid, entry).set(`${entry.name}@${entry.version}`, entry)
  const unavailable = new Map<string, Error>()
  const installs = new Map<string, Promise<void>>()
  /** Installs the approved template `ref` names, once (concurrent steps share the install). */
  const ensure = (ref: unknown): Promise<void> => {
    const entry = typeof ref === 'string' ? byRef.get(ref) : undefined
    if (entry === undefined) return Promise.resolve() // not approved: the sandbox refuses it by name
    let install = installs.get(entry.cid)
    if (install === undefined) {
      install = installApproved(box, paths, entry).then((error) => {
        if (error === undefined) return
        unavailable.set(entry.cid, error)
        init.onError?.(entry.cid, error)
        throw error
      })
      install.catch(() => {}) // awaited by the steps that need it; reported through onError
      installs.set(entry.cid, install)
    }
    return install
  }
  // A template that cannot be installed is reported through onError and fails only its steps.
  if (config.preload === true) for (const entry of approved) await ensure(entry.cid).catch(() => {})
  const run = wasmRunAction(box)
  const action: Action<WasmRunParams, unknown> = {
    name: run.name,
    sideEffects: run.sideEffects,
    async execute(params: WasmRunParams, context: ActionContext): Promise<unknown> {
      await ensure(params?.module)
      return run.execute(params, context)
    }
  }
  return { sandbox: box, action, unavailable }
}

async function installApproved(box: Sandbox, paths: TemplatePaths, entry: ApprovedTemplate): Promise<Error | undefined> {
  const ref = `${entry.name}@${entry.version}`
  const read = async (path: string): Promise<Buffer | Error> =>
    readFile(path).catch((err: unknown) => new TemplateUnavailableError(ref, path, missing(err) ? 'no such file' : (err as Error).message))
  const bytes = await read(paths.module(entry.cid))
  if (bytes instanceof Error) return bytes
  const manifestText = await read(paths.manifest(entry.cid))
  if (manifestText instanceof Error) return manifestText
  try {
    await box.install(JSON.parse(manifestText.toString('utf8')), new Uint8Array(bytes))
    return undefined
  } catch (err) {
    return err as Error
  }
}
