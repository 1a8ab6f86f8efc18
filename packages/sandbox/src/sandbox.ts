import { readFile } from 'node:fs/promises'
import type { ValidateFunction } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { type AllowList, type ApprovedTemplate, type SignedAllowList, verifyAllowList } from './allow-list.js'
import {
  DEFAULT_FUEL,
  DEFAULT_MAX_CONFIG_BYTES,
  DEFAULT_MAX_INPUT_BYTES,
  DEFAULT_MAX_MEMORY_PAGES,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_POOL_SIZE,
  DEFAULT_SPARE_WORKERS,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_WORKER_HEAP_MB,
  KERNEL_IMPORTS,
  MAX_CONFIG_KEYS
} from './constants.js'
import {
  InvalidManifestError,
  InvalidModuleError,
  SandboxCallAbortedError,
  SandboxConfigError,
  SandboxFuelExhaustedError,
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
import { type CallHttp, TemplateHttp, type TemplateHttpInit } from './http.js'
import { type HttpHandler, SpareWorkers, TemplatePool, type WorkerReply } from './pool.js'
import { parseManifest, type SandboxLimits, type TemplateManifest, templateCid } from './template.js'
import { type CompiledModule, compileModule, type ModuleImport, prepareModule } from './wasm-binary.js'

/** Options of a sandbox; every one has a default. */
export interface SandboxInit {
  /** DAO identities (`did:key`) whose signed allow-lists are accepted. */
  readonly trustedIssuers?: readonly string[]
  /** Default limits, which are also the ceiling no manifest or call can raise. */
  readonly limits?: Partial<SandboxLimits>
  /** Warm instances (workers) kept per template (default 2). */
  readonly poolSize?: number
  /** Instruments modules with the fuel counter (default true). Without it `fuel` is not enforced. */
  readonly fuel?: boolean
  /** Heap limit of each worker's JavaScript side, MB (default 256). */
  readonly workerHeapMb?: number
  /** Workers started per template at install (default 1; 0 defers to the first call). */
  readonly warmInstances?: number
  /** Started workers kept ready for the next template or replacement (default 1). */
  readonly spareWorkers?: number
  /**
   * Outbound HTTP of templates whose manifest allows hosts: the private networks they may reach
   * (none by default, as for `http.request`), request budget, size and time limits.
   */
  readonly http?: TemplateHttpInit
  /** Largest Extism `config` of one call, UTF-8 bytes of keys and values (default 16 KiB). */
  readonly maxConfigBytes?: number
}

/** What a sandbox is given. */
export interface SandboxComponents {
  /** The DAO's signed list of approved templates. */
  readonly allowList: SignedAllowList
}

/** A template the sandbox can run. */
export interface InstalledTemplate {
  /** Its CID. */
  readonly cid: string
  /** Its manifest. */
  readonly manifest: TemplateManifest
  /** The limits its calls get by default. */
  readonly limits: SandboxLimits
}

/** Per-call options (they can only lower the template's limits). */
export interface CallOptions {
  /** Wall-time limit, ms. */
  readonly timeoutMs?: number
  /** Fuel budget. */
  readonly fuel?: number
  /** Stops the call (killing its worker) when aborted: {@link SandboxCallAbortedError}. */
  readonly signal?: AbortSignal
  /**
   * Extism config the template reads with `config_get` (the PDK's `Config.get`) during this call
   * only: at most 64 keys, non-empty string values, 16 KiB in all by default
   * ({@link SandboxConfigError} otherwise).
   */
  readonly config?: Readonly<Record<string, string>>
  /** Sent on the call's outbound HTTP requests as `Idempotency-Key: <key>:http:<n>` (n counts from 1). */
  readonly idempotencyKey?: string
}

/** What one call cost and how it ended. */
export interface CallMetrics {
  /** Template CID. */
  readonly template: string
  /** Function called. */
  readonly function: string
  /** Wall time seen by the caller, ms. */
  readonly durationMs: number
  /** Fuel burnt (0 when fuel is off or the call was refused before running). */
  readonly fuelUsed: number
  /** Linear memory of the instance after the call (its peak: memory never shrinks), in 64 KiB pages. */
  readonly peakMemoryPages: number
  /** Input bytes. */
  readonly inputBytes: number
  /** Output bytes (0 on failure). */
  readonly outputBytes: number
  /** `ok`, or the name of the error the call failed with. */
  readonly outcome: string
}

/** The result of a call. */
export interface CallResult {
  /** The output bytes. */
  readonly output: Uint8Array
  /** What the call cost. */
  readonly metrics: CallMetrics
}

/** The result of a JSON call. */
export interface RunResult {
  /** The parsed output. */
  readonly output: unknown
  /** What the call cost. */
  readonly metrics: CallMetrics
}

/** Totals over every call since start. */
export interface SandboxMetrics {
  /** Calls made. */
  readonly calls: number
  /** Calls by outcome (`ok` or an error name). */
  readonly outcomes: Readonly<Record<string, number>>
  /** Fuel burnt in all. */
  readonly fuelUsed: number
  /** Input bytes in all. */
  readonly inputBytes: number
  /** Output bytes in all. */
  readonly outputBytes: number
}

/** Runs DAO-approved WebAssembly templates with limits. */
export interface Sandbox {
  /** Starts the sandbox (templates can be installed and called). */
  start(): Promise<void>
  /** Stops every worker. */
  stop(): Promise<void>
  /**
   * Installs a template: refuses one whose CID is not approved, or whose manifest grants host
   * functions or hosts the allow-list does not approve for it ({@link TemplateNotApprovedError}),
   * or whose bytes do not hash to its manifest's CID ({@link TemplateTamperedError}) before
   * compiling anything, checks its imports against its grants, rewrites it (memory cap, fuel) and
   * warms its pool.
   */
  install(manifest: unknown, bytes: Uint8Array): Promise<InstalledTemplate>
  /** Reads `<path>.wasm` and `<path>.manifest.json` and installs them. */
  installFiles(wasmPath: string, manifestPath: string): Promise<InstalledTemplate>
  /** Replaces the allow-list; templates no longer approved are removed. */
  updateAllowList(signed: SignedAllowList): Promise<void>
  /** The installed templates. */
  templates(): InstalledTemplate[]
  /** The installed template a reference (CID or `name@version`) names, or undefined. */
  resolve(ref: string): InstalledTemplate | undefined
  /** Calls a function of a template with raw input bytes (or a string, UTF-8). */
  call(ref: string, fn: string, input: Uint8Array | string, options?: CallOptions): Promise<CallResult>
  /**
   * Calls a function with a JSON value (a string is passed as its UTF-8 text, anything else as
   * JSON), checking input and output against the manifest's schemas; the output is parsed as JSON.
   */
  run(ref: string, fn: string, input: unknown, options?: CallOptions): Promise<RunResult>
  /** Subscribes to every call's metrics; returns the unsubscribe function. */
  onCall(listener: (metrics: CallMetrics) => void): () => void
  /** Totals since start. */
  metrics(): SandboxMetrics
}

interface Loaded extends InstalledTemplate {
  readonly pool: TemplatePool
  readonly input?: ValidateFunction
  readonly output?: ValidateFunction
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

function pointerOf(validate: ValidateFunction): { pointer: string; message: string } {
  const first = validate.errors?.[0]
  return { pointer: first?.instancePath ?? '', message: first?.message ?? 'does not match the schema' }
}

class WasmSandbox implements Sandbox {
  private readonly trusted: readonly string[]
  private approved = new Map<string, ApprovedTemplate>()
  private readonly loaded = new Map<string, Loaded>()
  private readonly byName = new Map<string, string>()
  private readonly listeners = new Set<(metrics: CallMetrics) => void>()
  private readonly ceiling: SandboxLimits
  // Made on the first schema compiled: building one costs milliseconds a sandbox with no template
  // (or none with schemas) should not pay.
  private ajvInstance: Ajv2020 | undefined
  private readonly http: TemplateHttp
  private running = false
  private spares: SpareWorkers | undefined
  private totals = { calls: 0, outcomes: {} as Record<string, number>, fuelUsed: 0, inputBytes: 0, outputBytes: 0 }

  constructor(
    private readonly init: SandboxInit,
    components: SandboxComponents
  ) {
    this.trusted = init.trustedIssuers ?? []
    this.ceiling = {
      maxMemoryPages: init.limits?.maxMemoryPages ?? DEFAULT_MAX_MEMORY_PAGES,
      timeoutMs: init.limits?.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      fuel: init.limits?.fuel ?? DEFAULT_FUEL,
      maxInputBytes: init.limits?.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES,
      maxOutputBytes: init.limits?.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
    }
    this.http = new TemplateHttp(init.http)
    this.setList(verifyAllowList(components.allowList, this.trusted))
  }

  private setList(list: AllowList): void {
    this.approved = new Map(list.templates.map((t) => [t.cid, t]))
  }

  async start(): Promise<void> {
    if (this.running) return
    this.spares = new SpareWorkers(this.init.spareWorkers ?? DEFAULT_SPARE_WORKERS, this.init.workerHeapMb ?? DEFAULT_WORKER_HEAP_MB)
    this.running = true
  }

  async stop(): Promise<void> {
    this.running = false
    this.spares?.stop()
    this.spares = undefined
    for (const template of this.loaded.values()) template.pool.close()
    this.loaded.clear()
    this.byName.clear()
  }

  async updateAllowList(signed: SignedAllowList): Promise<void> {
    this.setList(verifyAllowList(signed, this.trusted))
    for (const [cid, template] of this.loaded) {
      const entry = this.approved.get(cid)
      if (entry === undefined || entry.name !== template.manifest.name || entry.version !== template.manifest.version) {
        template.pool.close()
        this.loaded.delete(cid)
        this.byName.delete(`${template.manifest.name}@${template.manifest.version}`)
      }
    }
  }

  templates(): InstalledTemplate[] {
    return [...this.loaded.values()].map(({ cid, manifest, limits }) => ({ cid, manifest, limits }))
  }

  resolve(ref: string): InstalledTemplate | undefined {
    const t = this.find(ref)
    return t === undefined ? undefined : { cid: t.cid, manifest: t.manifest, limits: t.limits }
  }

  private find(ref: string): Loaded | undefined {
    return this.loaded.get(ref) ?? this.loaded.get(this.byName.get(ref) ?? '')
  }

  private checkImports(imports: readonly ModuleImport[], manifest: TemplateManifest): void {
    const granted = new Set(manifest.hostFunctions ?? [])
    const network = (manifest.allowedHosts ?? []).length > 0
    for (const imp of imports) {
      const name = `${imp.module}.${imp.name}`
      if (imp.kind !== 0) throw new SandboxImportNotGrantedError(name, `The module imports ${name}, which is not a function`)
      if (imp.module === 'extism:host/env') {
        if (KERNEL_IMPORTS.includes(imp.name)) continue
        if (imp.name === 'http_request' && network) continue
        throw new SandboxImportNotGrantedError(name, `The module imports ${name}${imp.name === 'http_request' ? ' but its manifest allows no host' : ', which the sandbox does not grant'}`)
      }
      if (imp.module === 'extism:host/user' && granted.has(imp.name)) continue
      throw new SandboxImportNotGrantedError(name)
    }
  }

  private limitsOf(manifest: TemplateManifest): SandboxLimits {
    const m = manifest.limits ?? {}
    const c = this.ceiling
    return {
      maxMemoryPages: Math.min(m.maxMemoryPages ?? c.maxMemoryPages, c.maxMemoryPages),
      timeoutMs: Math.min(m.timeoutMs ?? c.timeoutMs, c.timeoutMs),
      fuel: Math.min(m.fuel ?? c.fuel, c.fuel),
      maxInputBytes: Math.min(m.maxInputBytes ?? c.maxInputBytes, c.maxInputBytes),
      maxOutputBytes: Math.min(m.maxOutputBytes ?? c.maxOutputBytes, c.maxOutputBytes)
    }
  }

  private compileSchema(schema: Record<string, unknown> | undefined, pointer: string): ValidateFunction | undefined {
    if (schema === undefined) return undefined
    try {
      this.ajvInstance ??= new Ajv2020({ allErrors: false, strict: false, logger: false })
      return this.ajvInstance.compile(schema)
    } catch (err) {
      throw new InvalidManifestError(pointer, `not a valid JSON Schema: ${(err as Error).message}`)
    }
  }

  async install(manifestValue: unknown, bytes: Uint8Array): Promise<InstalledTemplate> {
    if (!this.running) throw new SandboxUnavailableError()
    const manifest = parseManifest(manifestValue)
    const approval = this.approved.get(manifest.module)
    if (approval === undefined) throw new TemplateNotApprovedError(manifest.module)
    if (approval.name !== manifest.name || approval.version !== manifest.version) {
      throw new TemplateNotApprovedError(
        manifest.module,
        `Template ${manifest.module} is approved as ${approval.name}@${approval.version}, not as ${manifest.name}@${manifest.version}`
      )
    }
    for (const key of ['hostFunctions', 'allowedHosts'] as const) {
      const extra = (manifest[key] ?? []).filter((grant) => !(approval[key] ?? []).includes(grant))
      if (extra.length > 0) {
        throw new TemplateNotApprovedError(manifest.module, `Template ${manifest.name}@${manifest.version}: the allow-list does not approve ${key} ${extra.join(', ')}`)
      }
    }
    const actual = await templateCid(bytes)
    if (actual !== manifest.module) throw new TemplateTamperedError(manifest.module, actual)
    const limits = this.limitsOf(manifest)
    const prepared = prepareModule(bytes, { maxPages: limits.maxMemoryPages, fuel: this.init.fuel ?? true, startFuel: limits.fuel })
    this.checkImports(prepared.imports, manifest)
    manifest.exports.forEach((name, i) => {
      if (!prepared.exports.includes(name)) throw new InvalidManifestError(`/exports/${i}`, `the module exports no function ${name}`)
    })
    const input = this.compileSchema(manifest.inputSchema, '/inputSchema')
    const output = this.compileSchema(manifest.outputSchema, '/outputSchema')
    let module: CompiledModule
    try {
      module = await compileModule(prepared.bytes)
    } catch (err) {
      throw new InvalidModuleError(`the module does not compile: ${(err as Error).message}`)
    }
    const pool = new TemplatePool({
      module,
      stateGlobals: prepared.stateGlobals,
      hostFunctions: manifest.hostFunctions ?? [],
      allowedHosts: manifest.allowedHosts ?? [],
      size: this.init.poolSize ?? DEFAULT_POOL_SIZE,
      spares: this.spares as SpareWorkers
    })
    const failed = await pool.warm(this.init.warmInstances ?? 1)
    if (failed !== undefined) {
      pool.close()
      throw this.errorOf(failed, manifest.module, '', limits)
    }
    const previous = this.loaded.get(manifest.module)
    previous?.pool.close()
    const loaded: Loaded = {
      cid: manifest.module,
      manifest,
      limits,
      pool,
      ...(input === undefined ? {} : { input }),
      ...(output === undefined ? {} : { output })
    }
    this.loaded.set(manifest.module, loaded)
    this.byName.set(`${manifest.name}@${manifest.version}`, manifest.module)
    return { cid: loaded.cid, manifest, limits }
  }

  async installFiles(wasmPath: string, manifestPath: string): Promise<InstalledTemplate> {
    let manifest: unknown
    try {
      manifest = JSON.parse(await readFile(manifestPath, 'utf8'))
    } catch (err) {
      throw new InvalidManifestError('', `cannot read ${manifestPath}: ${(err as Error).message}`)
    }
    return this.install(manifest, await readFile(wasmPath))
  }

  private errorOf(reply: WorkerReply, cid: string, fn: string, limits: SandboxLimits, fuelLimit = limits.fuel): Error {
    switch (reply.kind) {
      case 'fuel':
        return new SandboxFuelExhaustedError(cid, fn, fuelLimit, reply.fuelUsed ?? fuelLimit)
      case 'memory':
        return new SandboxMemoryLimitError(cid, fn, limits.maxMemoryPages)
      case 'output':
        return new SandboxOutputTooLargeError(cid, fn, reply.bytes ?? 0, limits.maxOutputBytes)
      case 'stack-overflow':
        return new SandboxTrapError(cid, fn, 'stack-overflow', reply.message ?? 'stack overflow')
      case 'guest-error':
        return new SandboxTrapError(cid, fn, 'guest-error', reply.message ?? 'error')
      case 'load':
        return new SandboxTrapError(cid, fn, 'trap', `instantiation failed: ${reply.message ?? ''}`)
      case 'http':
        return new SandboxHttpError(cid, reply.message ?? 'HTTP request refused')
      default:
        return new SandboxTrapError(cid, fn, 'trap', reply.message ?? 'trap')
    }
  }

  private record(metrics: CallMetrics): void {
    const t = this.totals
    t.calls++
    t.outcomes[metrics.outcome] = (t.outcomes[metrics.outcome] ?? 0) + 1
    t.fuelUsed += metrics.fuelUsed
    t.inputBytes += metrics.inputBytes
    t.outputBytes += metrics.outputBytes
    for (const listener of this.listeners) {
      try {
        listener(metrics)
      } catch {
        // A listener's failure is its own; the call's outcome stands.
      }
    }
  }

  async call(ref: string, fn: string, input: Uint8Array | string, options: CallOptions = {}): Promise<CallResult> {
    if (!this.running) throw new SandboxUnavailableError()
    const template = this.find(ref)
    if (template === undefined) {
      const approvedName = [...this.approved.values()].some((t) => `${t.name}@${t.version}` === ref)
      throw this.approved.has(ref) || approvedName ? new UnknownTemplateError(ref) : new TemplateNotApprovedError(ref)
    }
    if (!template.manifest.exports.includes(fn)) {
      throw new UnknownTemplateError(ref, `Template ${ref} exports no function ${fn} (exports: ${template.manifest.exports.join(', ')})`)
    }
    const bytes = typeof input === 'string' ? encoder.encode(input) : input
    const limits = template.limits
    const started = performance.now()
    const fuel = Math.min(options.fuel ?? limits.fuel, limits.fuel)
    const timeoutMs = Math.min(options.timeoutMs ?? limits.timeoutMs, limits.timeoutMs)
    const base = { template: template.cid, function: fn, inputBytes: bytes.length }
    let refused: Error | undefined
    let config: Record<string, string> | undefined
    try {
      config = this.checkConfig(options.config)
    } catch (err) {
      refused = err as Error
    }
    if (refused === undefined && bytes.length > limits.maxInputBytes) refused = new SandboxInputTooLargeError(bytes.length, limits.maxInputBytes)
    if (refused !== undefined) {
      this.record({ ...base, durationMs: performance.now() - started, fuelUsed: 0, peakMemoryPages: 0, outputBytes: 0, outcome: refused.name })
      throw refused
    }
    // Outbound HTTP state exists only for templates allowed to reach a host.
    const allowedHosts = template.manifest.allowedHosts ?? []
    const ended = allowedHosts.length === 0 ? undefined : new AbortController()
    const http: CallHttp | undefined =
      ended === undefined
        ? undefined
        : { requests: 0, signal: ended.signal, deadline: started + timeoutMs, ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }) }
    const handler: HttpHandler | undefined = http === undefined ? undefined : (request, body) => this.http.request(template.cid, allowedHosts, request, body, http)
    let outcome: Awaited<ReturnType<TemplatePool['call']>>
    try {
      outcome = await template.pool.call(
        { type: 'call', fn, input: bytes, fuel, metered: this.init.fuel ?? true, maxOutputBytes: limits.maxOutputBytes, config },
        timeoutMs,
        options.signal,
        handler
      )
    } finally {
      ended?.abort()
    }
    const durationMs = performance.now() - started
    if (outcome.aborted) {
      const error = new SandboxCallAbortedError(template.cid, fn)
      this.record({ ...base, durationMs, fuelUsed: 0, peakMemoryPages: 0, outputBytes: 0, outcome: error.name })
      throw error
    }
    if (outcome.timedOut) {
      const error = new SandboxTimeoutError(template.cid, fn, timeoutMs)
      this.record({ ...base, durationMs, fuelUsed: 0, peakMemoryPages: 0, outputBytes: 0, outcome: error.name })
      throw error
    }
    const reply = outcome.reply
    const fuelUsed = (this.init.fuel ?? true) ? (reply.fuelUsed ?? 0) : 0
    if (!reply.ok) {
      const error = (reply.kind === 'http' ? http?.error : undefined) ?? this.errorOf(reply, template.cid, fn, limits, fuel)
      this.record({ ...base, durationMs, fuelUsed, peakMemoryPages: reply.pages ?? 0, outputBytes: 0, outcome: error.name })
      throw error
    }
    const output = reply.output ?? new Uint8Array()
    const metrics: CallMetrics = { ...base, durationMs, fuelUsed, peakMemoryPages: reply.pages ?? 0, outputBytes: output.length, outcome: 'ok' }
    this.record(metrics)
    return { output, metrics }
  }

  /** A call's config as a fresh plain object, or {@link SandboxConfigError}. */
  private checkConfig(config: unknown): Record<string, string> | undefined {
    if (config === undefined) return undefined
    if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new SandboxConfigError('/config', 'must be an object of strings')
    const entries = Object.entries(config)
    if (entries.length > MAX_CONFIG_KEYS) throw new SandboxConfigError('/config', `more than ${MAX_CONFIG_KEYS} keys`)
    const max = this.init.maxConfigBytes ?? DEFAULT_MAX_CONFIG_BYTES
    let size = 0
    const out = Object.create(null) as Record<string, string>
    for (const [key, value] of entries) {
      const pointer = `/config/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`
      if (key.length === 0) throw new SandboxConfigError(pointer, 'keys must be non-empty')
      // Extism 1.0.3 cannot hand an empty value to the guest (config_get of "" traps).
      if (typeof value !== 'string' || value.length === 0) throw new SandboxConfigError(pointer, 'must be a non-empty string')
      size += encoder.encode(key).length + encoder.encode(value).length
      if (size > max) throw new SandboxConfigError(pointer, `the config is larger than ${max} bytes`)
      out[key] = value
    }
    return out
  }

  async run(ref: string, fn: string, input: unknown, options: CallOptions = {}): Promise<RunResult> {
    const template = this.find(ref)
    if (template?.input !== undefined && !template.input(input)) {
      const { pointer, message } = pointerOf(template.input)
      throw new SandboxSchemaError('input', pointer, message)
    }
    let json: string
    try {
      json = typeof input === 'string' ? input : (JSON.stringify(input) ?? 'null')
    } catch (err) {
      throw new SandboxSchemaError('input', '', `not JSON: ${(err as Error).message}`)
    }
    const { output, metrics } = await this.call(ref, fn, json, options)
    let value: unknown
    try {
      value = JSON.parse(decoder.decode(output))
    } catch (err) {
      throw new SandboxSchemaError('output', '', `not JSON: ${(err as Error).message}`)
    }
    if (template?.output !== undefined && !template.output(value)) {
      const { pointer, message } = pointerOf(template.output)
      throw new SandboxSchemaError('output', pointer, message)
    }
    return { output: value, metrics }
  }

  onCall(listener: (metrics: CallMetrics) => void): () => void {
    this.listeners.add(listener)
    return () => void this.listeners.delete(listener)
  }

  metrics(): SandboxMetrics {
    return { ...this.totals, outcomes: { ...this.totals.outcomes } }
  }
}

/**
 * Makes a sandbox: `sandbox({ trustedIssuers: [daoDid] })({ allowList })`. The allow-list is
 * verified at construction ({@link InvalidAllowListError} if it does not verify).
 */
export function sandbox(init: SandboxInit = {}): (components: SandboxComponents) => Sandbox {
  return (components) => new WasmSandbox(init, components)
}
