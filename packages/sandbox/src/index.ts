/**
 * @packageDocumentation
 * DAO-approved WebAssembly steps for Qflow. Templates are Extism modules (written in
 * AssemblyScript) named by the CID of their bytes; the sandbox runs only those on a signed
 * allow-list, each call on a warm worker with a linear-memory cap, a wall-time limit, a
 * deterministic fuel budget and input/output size bounds, and plugs into the engine as the
 * `wasm.run` action.
 *
 * @example
 * ```ts
 * import { readFile } from 'node:fs/promises'
 * import { join } from 'node:path'
 * import { createIdentity } from '@qflow/adapters-squid'
 * import { exampleTemplatesDir, sandbox, signAllowList, templateCid } from '@qflow/sandbox'
 *
 * const dao = createIdentity()
 * // The package ships its example templates, compiled.
 * const bytes = await readFile(join(exampleTemplatesDir(), 'sha256.wasm'))
 * const cid = await templateCid(bytes)
 * const allowList = await signAllowList(
 *   { v: 1, issuer: dao.did, issuedAt: new Date().toISOString(), templates: [{ cid, name: 'sha256', version: '1.0.0' }] },
 *   dao
 * )
 * const box = sandbox({ trustedIssuers: [dao.did] })({ allowList })
 * await box.start()
 * await box.install({ module: cid, name: 'sha256', version: '1.0.0', exports: ['sha256'] }, bytes)
 * const { output } = await box.call('sha256@1.0.0', 'sha256', 'abc')
 * console.log(JSON.parse(new TextDecoder().decode(output))) // ba7816bf…
 * await box.stop()
 * ```
 */

export { wasmRunAction, type WasmRunParams } from './action.js'
export {
  type AllowList,
  type AllowListSigner,
  type ApprovedTemplate,
  ed25519KeyFromDid,
  readAllowListFile,
  type SignedAllowList,
  signAllowList,
  verifyAllowList
} from './allow-list.js'
export {
  DEFAULT_FUEL,
  DEFAULT_HTTP_MAX_REDIRECTS,
  DEFAULT_HTTP_MAX_REQUEST_BYTES,
  DEFAULT_HTTP_MAX_REQUESTS,
  DEFAULT_HTTP_MAX_RESPONSE_BYTES,
  DEFAULT_HTTP_TIMEOUT_MS,
  DEFAULT_MAX_CONFIG_BYTES,
  DEFAULT_MAX_INPUT_BYTES,
  DEFAULT_MAX_MEMORY_PAGES,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_POOL_SIZE,
  DEFAULT_SPARE_WORKERS,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_WORKER_HEAP_MB,
  GRANTABLE_HOST_FUNCTIONS,
  KERNEL_IMPORTS,
  MAX_CONFIG_KEYS
} from './constants.js'
export {
  InvalidAllowListError,
  InvalidManifestError,
  InvalidModuleError,
  SandboxCallAbortedError,
  SandboxConfigError,
  SandboxFuelExhaustedError,
  SandboxHostNotAllowedError,
  SandboxHttpError,
  SandboxImportNotGrantedError,
  SandboxInputTooLargeError,
  SandboxMemoryLimitError,
  SandboxOutputTooLargeError,
  SandboxSchemaError,
  SandboxTimeoutError,
  SandboxTrapError,
  SandboxUnavailableError,
  TemplateNotApprovedError,
  TemplateTamperedError,
  UnknownTemplateError
} from './errors.js'
export { exampleTemplatesDir } from './examples.js'
export { hostAllowed, type TemplateHttpInit } from './http.js'
export {
  type CallMetrics,
  type CallOptions,
  type CallResult,
  type InstalledTemplate,
  type RunResult,
  type Sandbox,
  type SandboxComponents,
  type SandboxInit,
  type SandboxMetrics,
  sandbox
} from './sandbox.js'
export { parseManifest, type SandboxLimits, type TemplateManifest, templateCid } from './template.js'
export { type CompiledModule, FUEL_GLOBAL, type ModuleImport, OOM_GLOBAL, type PreparedModule, type PrepareOptions, prepareModule } from './wasm-binary.js'
