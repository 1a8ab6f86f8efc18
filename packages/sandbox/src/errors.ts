/**
 * Thrown when a module is asked for whose content hash is not on the approved list: it is refused
 * before it is compiled.
 */
export class TemplateNotApprovedError extends Error {
  static override readonly name = 'TemplateNotApprovedError'
  override readonly name = 'TemplateNotApprovedError'
  readonly retryable = false
  /** The template reference asked for (a CID or `name@version`). */
  readonly template: string
  constructor(template: string, message = `Template ${template} is not on the approved list`) {
    super(message)
    this.template = template
  }
}

/** Thrown when a module's bytes no longer hash to the CID they were approved under. */
export class TemplateTamperedError extends Error {
  static override readonly name = 'TemplateTamperedError'
  override readonly name = 'TemplateTamperedError'
  readonly retryable = false
  /** The approved CID. */
  readonly expected: string
  /** The CID of the bytes found. */
  readonly actual: string
  constructor(expected: string, actual: string) {
    super(`Template bytes hash to ${actual}, not to the approved ${expected}`)
    this.expected = expected
    this.actual = actual
  }
}

/** Thrown when an allow-list is malformed, its signature does not verify, or its signer is not trusted. */
export class InvalidAllowListError extends Error {
  static override readonly name = 'InvalidAllowListError'
  override readonly name = 'InvalidAllowListError'
  readonly retryable = false
  /** A JSON pointer into the signed list document. */
  readonly pointer: string
  constructor(pointer: string, message: string) {
    super(`allow-list ${pointer || '/'}: ${message}`)
    this.pointer = pointer
  }
}

/** Thrown when a template manifest is malformed. */
export class InvalidManifestError extends Error {
  static override readonly name = 'InvalidManifestError'
  override readonly name = 'InvalidManifestError'
  readonly retryable = false
  /** A JSON pointer into the manifest. */
  readonly pointer: string
  constructor(pointer: string, message: string) {
    super(`manifest ${pointer || '/'}: ${message}`)
    this.pointer = pointer
  }
}

/** Thrown when module bytes are not a WebAssembly module the sandbox can run (bad encoding, imported or shared memory, SIMD, …). */
export class InvalidModuleError extends Error {
  static override readonly name = 'InvalidModuleError'
  override readonly name = 'InvalidModuleError'
  readonly retryable = false
  /** Byte offset in the module where decoding failed, if known. */
  readonly offset: number
  constructor(message: string, offset = -1) {
    super(offset >= 0 ? `${message} (at byte ${offset})` : message)
    this.offset = offset
  }
}

/** Thrown when a module imports a host function (or any import) its manifest does not grant. */
export class SandboxImportNotGrantedError extends Error {
  static override readonly name = 'SandboxImportNotGrantedError'
  override readonly name = 'SandboxImportNotGrantedError'
  readonly retryable = false
  /** `module.name` of the import. */
  readonly import: string
  constructor(importName: string, message = `The module imports ${importName}, which its manifest does not grant`) {
    super(message)
    this.import = importName
  }
}

/** Thrown when a call is asked for a template nobody registered (unknown CID or `name@version`) or a function its manifest does not export. */
export class UnknownTemplateError extends Error {
  static override readonly name = 'UnknownTemplateError'
  override readonly name = 'UnknownTemplateError'
  readonly retryable = false
  /** The reference asked for. */
  readonly template: string
  constructor(template: string, message = `No template ${template} is loaded`) {
    super(message)
    this.template = template
  }
}

/** Fields every failed-call error carries. */
interface CallErrorFields {
  /** The template CID. */
  readonly template: string
  /** The function called. */
  readonly function: string
}

/** Thrown when a call runs past its wall-time limit; the worker running it was killed. */
export class SandboxTimeoutError extends Error implements CallErrorFields {
  static override readonly name = 'SandboxTimeoutError'
  override readonly name = 'SandboxTimeoutError'
  readonly retryable = false
  readonly template: string
  readonly function: string
  /** The limit, in ms. */
  readonly timeoutMs: number
  constructor(template: string, fn: string, timeoutMs: number) {
    super(`${fn} of ${template} ran past its ${timeoutMs} ms limit`)
    this.template = template
    this.function = fn
    this.timeoutMs = timeoutMs
  }
}

/** Thrown when a call runs out of its fuel budget (the deterministic CPU limit). */
export class SandboxFuelExhaustedError extends Error implements CallErrorFields {
  static override readonly name = 'SandboxFuelExhaustedError'
  override readonly name = 'SandboxFuelExhaustedError'
  readonly retryable = false
  readonly template: string
  readonly function: string
  /** The budget the call had. */
  readonly fuelLimit: number
  /** Fuel used when it stopped (at least the budget). */
  readonly fuelUsed: number
  constructor(template: string, fn: string, fuelLimit: number, fuelUsed: number) {
    super(`${fn} of ${template} ran out of fuel: used ${fuelUsed} of ${fuelLimit}`)
    this.template = template
    this.function = fn
    this.fuelLimit = fuelLimit
    this.fuelUsed = fuelUsed
  }
}

/** Thrown when a call needs more linear memory than its cap (memory.grow returned -1 and the module trapped), or a module asks for more at start. */
export class SandboxMemoryLimitError extends Error {
  static override readonly name = 'SandboxMemoryLimitError'
  override readonly name = 'SandboxMemoryLimitError'
  readonly retryable = false
  readonly template: string
  readonly function: string
  /** The cap, in 64 KiB pages. */
  readonly maxPages: number
  constructor(template: string, fn: string, maxPages: number, message = `${fn || 'instantiation'} of ${template} hit its memory cap of ${maxPages} pages`) {
    super(message)
    this.template = template
    this.function = fn
    this.maxPages = maxPages
  }
}

/** Thrown when a call's input is larger than its limit (nothing was run). */
export class SandboxInputTooLargeError extends Error {
  static override readonly name = 'SandboxInputTooLargeError'
  override readonly name = 'SandboxInputTooLargeError'
  readonly retryable = false
  /** Input bytes. */
  readonly bytes: number
  /** The limit. */
  readonly maxBytes: number
  constructor(bytes: number, maxBytes: number) {
    super(`Input of ${bytes} bytes is over the ${maxBytes}-byte limit`)
    this.bytes = bytes
    this.maxBytes = maxBytes
  }
}

/** Thrown when a call's output is larger than its limit (the output is dropped). */
export class SandboxOutputTooLargeError extends Error {
  static override readonly name = 'SandboxOutputTooLargeError'
  override readonly name = 'SandboxOutputTooLargeError'
  readonly retryable = false
  readonly template: string
  readonly function: string
  /** Output bytes. */
  readonly bytes: number
  /** The limit. */
  readonly maxBytes: number
  constructor(template: string, fn: string, bytes: number, maxBytes: number) {
    super(`${fn} of ${template} answered ${bytes} bytes, over the ${maxBytes}-byte limit`)
    this.template = template
    this.function = fn
    this.bytes = bytes
    this.maxBytes = maxBytes
  }
}

/** Thrown when a call's input or output does not match its manifest's JSON Schema. */
export class SandboxSchemaError extends Error {
  static override readonly name = 'SandboxSchemaError'
  override readonly name = 'SandboxSchemaError'
  readonly retryable = false
  /** Which side failed. */
  readonly side: 'input' | 'output'
  /** JSON pointer of the first offending value. */
  readonly pointer: string
  constructor(side: 'input' | 'output', pointer: string, message: string) {
    super(`${side} ${pointer || '/'}: ${message}`)
    this.side = side
    this.pointer = pointer
  }
}

/** Thrown when a module traps (unreachable, stack overflow, out-of-bounds access) or reports an error through `error_set`. */
export class SandboxTrapError extends Error {
  static override readonly name = 'SandboxTrapError'
  override readonly name = 'SandboxTrapError'
  readonly retryable = false
  readonly template: string
  readonly function: string
  /** `stack-overflow` for runaway recursion, `trap` for other traps, `guest-error` for an error the module reported. */
  readonly kind: 'stack-overflow' | 'trap' | 'guest-error'
  constructor(template: string, fn: string, kind: 'stack-overflow' | 'trap' | 'guest-error', message: string) {
    super(`${fn} of ${template}: ${message}`)
    this.template = template
    this.function = fn
    this.kind = kind
  }
}

/** Thrown when the sandbox is used before `start()` or after `stop()`, or a worker died unexpectedly. */
export class SandboxUnavailableError extends Error {
  static override readonly name = 'SandboxUnavailableError'
  override readonly name = 'SandboxUnavailableError'
  readonly retryable = true
  constructor(message = 'The sandbox is not running') {
    super(message)
  }
}

/** Thrown when a call's abort signal fires (the step timed out, or its execution was paused or aborted); the worker running it was killed. */
export class SandboxCallAbortedError extends Error {
  static override readonly name = 'SandboxCallAbortedError'
  override readonly name = 'SandboxCallAbortedError'
  readonly retryable = true
  readonly template: string
  readonly function: string
  constructor(template: string, fn: string) {
    super(`${fn} of ${template} was aborted`)
    this.template = template
    this.function = fn
  }
}

/**
 * Thrown when a template asks for a URL whose host its manifest's `allowedHosts` does not list (or
 * a redirect leads to one): the request is never sent.
 */
export class SandboxHostNotAllowedError extends Error {
  static override readonly name = 'SandboxHostNotAllowedError'
  override readonly name = 'SandboxHostNotAllowedError'
  readonly retryable = false
  /** The template's CID. */
  readonly template: string
  /** The host asked for. */
  readonly host: string
  constructor(template: string, host: string, allowed: readonly string[]) {
    super(`Template ${template} may not reach ${host} (its allowed hosts: ${allowed.length === 0 ? 'none' : allowed.join(', ')})`)
    this.template = template
    this.host = host
  }
}

/**
 * Thrown when a template's outbound HTTP request is malformed (not JSON, not an http(s) URL, a
 * body that is not UTF-8 or too large) or goes past the per-call request budget. Refusals of the
 * network itself surface as `http.request`'s own errors (`PrivateAddressError`,
 * `HttpRequestError`, `HttpResponseTooLargeError`).
 */
export class SandboxHttpError extends Error {
  static override readonly name = 'SandboxHttpError'
  override readonly name = 'SandboxHttpError'
  readonly retryable = false
  /** The template's CID. */
  readonly template: string
  constructor(template: string, message: string) {
    super(`Template ${template}: ${message}`)
    this.template = template
  }
}

/**
 * Thrown when a call's Extism `config` is not a flat map of non-empty strings within the size
 * bounds; `pointer` names the offending key (`/config/<key>`).
 */
export class SandboxConfigError extends Error {
  static override readonly name = 'SandboxConfigError'
  override readonly name = 'SandboxConfigError'
  readonly retryable = false
  /** A JSON pointer to the offending entry (`/config`, `/config/<key>`). */
  readonly pointer: string
  constructor(pointer: string, message: string) {
    super(`config ${pointer}: ${message}`)
    this.pointer = pointer
  }
}
