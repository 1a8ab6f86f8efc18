import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { GRANTABLE_HOST_FUNCTIONS } from './constants.js'
import { InvalidManifestError } from './errors.js'
import { isHostPattern } from './http.js'

/** The limits of one call; a manifest's `limits` and a sandbox's init override the defaults field by field. */
export interface SandboxLimits {
  /** Cap of the module's linear memory, in 64 KiB pages. */
  readonly maxMemoryPages: number
  /** Wall-time limit of one call, in ms. */
  readonly timeoutMs: number
  /** Fuel budget of one call (deterministic CPU limit). */
  readonly fuel: number
  /** Largest input, in bytes. */
  readonly maxInputBytes: number
  /** Largest output, in bytes. */
  readonly maxOutputBytes: number
}

/** What a template declares about itself. */
export interface TemplateManifest {
  /** The module's content hash: a CIDv1 (raw codec, sha2-256) of the module bytes. */
  readonly module: string
  /** Template name (`json-transform`). */
  readonly name: string
  /** Template version (semver). */
  readonly version: string
  /** The functions callers may call. */
  readonly exports: readonly string[]
  /** JSON Schema the (JSON) input of every call must match. */
  readonly inputSchema?: Record<string, unknown>
  /** JSON Schema the (JSON) output of every call must match. */
  readonly outputSchema?: Record<string, unknown>
  /** Default limits of this template's calls (capped by the sandbox's own). */
  readonly limits?: Partial<SandboxLimits>
  /** Host functions granted (`clock_now_ms`, `random_u64`); none by default. */
  readonly hostFunctions?: readonly string[]
  /**
   * Hosts the template may reach over HTTP through Extism's `http_request` (hostnames, IPs, or
   * `*.domain` for its subdomains); none by default.
   */
  readonly allowedHosts?: readonly string[]
}

/** The CID (CIDv1, raw codec, sha2-256, base32) naming module bytes. */
export async function templateCid(bytes: Uint8Array): Promise<string> {
  return CID.createV1(raw.code, await sha256.digest(bytes)).toString()
}

const LIMIT_KEYS: readonly (keyof SandboxLimits)[] = ['maxMemoryPages', 'timeoutMs', 'fuel', 'maxInputBytes', 'maxOutputBytes']
const EXPORT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function stringList(value: unknown, pointer: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0)) {
    throw new InvalidManifestError(pointer, 'must be an array of non-empty strings')
  }
  return value as string[]
}

/** Checks a manifest's shape; throws {@link InvalidManifestError} with a JSON pointer to the first problem. */
export function parseManifest(value: unknown): TemplateManifest {
  if (!isRecord(value)) throw new InvalidManifestError('', 'must be an object')
  const known = new Set(['module', 'name', 'version', 'exports', 'inputSchema', 'outputSchema', 'limits', 'hostFunctions', 'allowedHosts'])
  for (const key of Object.keys(value)) if (!known.has(key)) throw new InvalidManifestError(`/${key}`, 'unknown field')
  for (const key of ['module', 'name', 'version'] as const) {
    if (typeof value[key] !== 'string' || (value[key] as string).length === 0) throw new InvalidManifestError(`/${key}`, 'must be a non-empty string')
  }
  try {
    const cid = CID.parse(value.module as string)
    if (cid.version !== 1 || cid.code !== raw.code || cid.multihash.code !== sha256.code) throw new Error('not CIDv1 raw sha2-256')
  } catch (err) {
    throw new InvalidManifestError('/module', `must be a CIDv1 (raw, sha2-256): ${(err as Error).message}`)
  }
  const exports = stringList(value.exports, '/exports')
  exports.forEach((name, i) => {
    if (!EXPORT_NAME.test(name)) throw new InvalidManifestError(`/exports/${i}`, 'not a function name')
  })
  for (const key of ['inputSchema', 'outputSchema'] as const) {
    if (value[key] !== undefined && !isRecord(value[key])) throw new InvalidManifestError(`/${key}`, 'must be a JSON Schema object')
  }
  if (value.limits !== undefined) {
    if (!isRecord(value.limits)) throw new InvalidManifestError('/limits', 'must be an object')
    for (const [key, limit] of Object.entries(value.limits)) {
      if (!LIMIT_KEYS.includes(key as keyof SandboxLimits)) throw new InvalidManifestError(`/limits/${key}`, 'unknown limit')
      if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit <= 0) throw new InvalidManifestError(`/limits/${key}`, 'must be a positive integer')
    }
  }
  if (value.hostFunctions !== undefined) {
    stringList(value.hostFunctions, '/hostFunctions').forEach((name, i) => {
      if (!(GRANTABLE_HOST_FUNCTIONS as readonly string[]).includes(name)) {
        throw new InvalidManifestError(`/hostFunctions/${i}`, `unknown host function ${name} (grantable: ${GRANTABLE_HOST_FUNCTIONS.join(', ')})`)
      }
    })
  }
  if (value.allowedHosts !== undefined) {
    stringList(value.allowedHosts, '/allowedHosts').forEach((host, i) => {
      if (!isHostPattern(host)) throw new InvalidManifestError(`/allowedHosts/${i}`, `${host} is not a hostname, an IP or *.domain`)
    })
  }
  return value as unknown as TemplateManifest
}
