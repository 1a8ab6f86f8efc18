import type { SandboxLimits, TemplateHttpInit } from '@qflow/sandbox'

/** Directory under the data directory holding templates and their allow-list. */
export const TEMPLATES_DIR = 'templates'

/** File name of the signed allow-list in the templates directory. */
export const ALLOW_LIST_FILE = 'allow-list.json'

/** Environment variable listing extra did:keys whose signed allow-lists the node accepts (comma-separated). */
export const TEMPLATE_ISSUERS_ENV = 'QFLOW_TEMPLATE_ISSUERS'

/**
 * How a node runs WebAssembly templates (the `wasm.run` action). Every option is optional.
 *
 * The node accepts an allow-list signed by its own **admin identity** (what `qflow template
 * approve` signs with) or by one of `trustedIssuers` (a DAO's did:key, for a list the DAO
 * publishes). It installs each approved template from the templates directory
 * (`<cid>.wasm` + `<cid>.manifest.json`) on the first step that names it (or at start, `preload`).
 */
export interface NodeSandboxConfig {
  /** The templates directory (modules and manifests by CID). Default `<dataDir>/templates`. */
  templatesDir?: string
  /** The signed allow-list file. Default `<templatesDir>/allow-list.json`; none there means no template is approved. */
  allowListFile?: string
  /** did:keys trusted to sign allow-lists besides the node's admin identity. */
  trustedIssuers?: readonly string[]
  /** Ceiling of every template's limits (memory pages, wall time, fuel, input and output bytes). */
  limits?: Partial<SandboxLimits>
  /** Warm instances (worker threads) per template. Default 2. */
  poolSize?: number
  /**
   * Install every approved template when the node starts (hash checks, compilation, one spare
   * worker started) instead of on the first step that names it. Default false: starting a node
   * costs nothing for the templates its flows do not use (a `qflow run` of a flow without
   * `wasm.run` steps pays only for reading the allow-list).
   */
  preload?: boolean
  /**
   * Templates' outbound HTTP. `allowPrivateNetworks` defaults to the node's own
   * `allowPrivateNetworks` (the same guard `http.request` steps get).
   */
  http?: TemplateHttpInit
}
