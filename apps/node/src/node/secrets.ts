import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { decodeEnvelope, encodeEnvelope } from '@qflow/adapters-qlock'
import type { EncryptionBinding, Qlock } from '@qflow/pipeline'
import { writeFileAtomic } from '../write.js'
import { SECRET_FILE_MODE } from './constants.js'
import { DataDirCorruptError } from './errors.js'

/** File (under the data directory) holding the node's named secrets, each sealed by Qlock. */
export const SECRETS_FILE = 'secrets.json'

/** Secrets a node holds at most. */
export const DEFAULT_MAX_SECRETS = 10_000

/** Largest secret value, bytes of UTF-8. */
export const DEFAULT_MAX_SECRET_BYTES = 8 * 1024

/** What a secret's name may be: a letter or digit, then letters, digits, `.`, `_`, `-` (at most 128). */
export const SECRET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

/** Purpose every secret's ciphertext is bound to (with its name), so it opens only as that secret. */
const PURPOSE = 'node-secret'

/** What is known of a secret without opening it. */
export interface SecretInfo {
  /** Its name (what a webhook trigger's `auth.secretRef` names). */
  readonly name: string
  /** When it was first stored, ms since the epoch. */
  readonly createdAt: number
  /** When its value last changed, ms since the epoch. */
  readonly updatedAt: number
}

/** Options of {@link nodeSecretStore}; every one optional. */
export interface SecretStoreInit {
  /** File name under the data directory. Default `secrets.json`. */
  fileName?: string
  /** Secrets held at most. Default 10,000. */
  maxSecrets?: number
  /** Largest value, bytes of UTF-8. Default 8 KiB. */
  maxValueBytes?: number
}

/** What {@link nodeSecretStore} is given. */
export interface SecretStoreComponents {
  /** The node's data directory. */
  readonly dataDir: string
  /** The node's Qlock: values are encrypted under its keyring's data key of `subnet`. */
  readonly qlock: Pick<Qlock, 'encrypt' | 'decrypt'>
  /** The subnet whose data keys seal the secrets (the node's own). */
  readonly subnet: string
}

/**
 * The node's named secrets (webhook signing secrets and the like), sealed at rest: each value is
 * encrypted by Qlock with the node's keyring, bound to its name, in a file of mode 0600. Values are
 * read back only inside the node; listings carry names and times.
 */
export interface SecretStore {
  /** Reads the file (a missing file is an empty store). @throws `DataDirCorruptError` when it does not parse. */
  start(): Promise<void>
  /** Forgets the opened values. */
  stop(): Promise<void>
  /**
   * Stores a value under a name (replacing one there), durably before it resolves.
   *
   * @throws {@link InvalidSecretError} for a bad name or value; {@link SecretLimitError} when the store is full.
   */
  put(name: string, value: string): Promise<{ readonly info: SecretInfo; readonly created: boolean }>
  /**
   * A secret's value.
   *
   * @throws {@link SecretNotFoundError} when there is none of that name.
   */
  get(name: string): Promise<string>
  /** Whether a secret of that name exists. */
  has(name: string): boolean
  /** Every secret's name and times, by name. */
  list(): SecretInfo[]
  /** Removes a secret, durably; resolves whether there was one. */
  delete(name: string): Promise<boolean>
}

/** Thrown when a secret's name or value cannot be stored (`field` says which, `reason` why). */
export class InvalidSecretError extends Error {
  static override readonly name = 'InvalidSecretError'
  override readonly name = 'InvalidSecretError'
  /** `name` or `value`. */
  readonly field: 'name' | 'value'
  /** What is wrong. */
  readonly reason: string

  constructor(field: 'name' | 'value', reason: string) {
    super(`Invalid secret ${field}: ${reason}`)
    this.field = field
    this.reason = reason
  }
}

/** Thrown when a secret is asked for by a name the store does not hold. */
export class SecretNotFoundError extends Error {
  static override readonly name = 'SecretNotFoundError'
  override readonly name = 'SecretNotFoundError'
  /** The name asked for. */
  readonly secretName: string

  constructor(secretName: string) {
    super(`No secret named ${secretName}`)
    this.secretName = secretName
  }
}

/** Thrown when a new secret would take the store past its limit. */
export class SecretLimitError extends Error {
  static override readonly name = 'SecretLimitError'
  override readonly name = 'SecretLimitError'
  /** The limit. */
  readonly maxSecrets: number

  constructor(maxSecrets: number) {
    super(`The node holds ${maxSecrets} secrets already: delete one first`)
    this.maxSecrets = maxSecrets
  }
}

interface StoredSecret extends SecretInfo {
  /** The Qlock envelope, encoded and base64. */
  readonly envelope: string
}

interface SecretsFile {
  readonly v: 1
  readonly secrets: readonly StoredSecret[]
}

class SealedSecretStore implements SecretStore {
  private readonly path: string
  private readonly max: number
  private readonly maxBytes: number
  private secrets = new Map<string, StoredSecret>()
  private readonly opened = new Map<string, string>()
  private writes: Promise<void> = Promise.resolve()

  constructor(
    init: SecretStoreInit,
    private readonly components: SecretStoreComponents
  ) {
    this.path = resolve(components.dataDir, init.fileName ?? SECRETS_FILE)
    this.max = init.maxSecrets ?? DEFAULT_MAX_SECRETS
    this.maxBytes = init.maxValueBytes ?? DEFAULT_MAX_SECRET_BYTES
  }

  private binding(name: string): EncryptionBinding {
    return { subnet: this.components.subnet, purpose: PURPOSE, stepId: name }
  }

  async start(): Promise<void> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    const corrupt = (reason: string) => new DataDirCorruptError(this.components.dataDir, this.path, reason)
    let parsed: SecretsFile
    try {
      parsed = JSON.parse(text) as SecretsFile
    } catch (err) {
      throw corrupt(`not JSON (${(err as Error).message})`)
    }
    if (parsed === null || typeof parsed !== 'object' || parsed.v !== 1 || !Array.isArray(parsed.secrets)) throw corrupt('not a version 1 secrets file')
    const secrets = new Map<string, StoredSecret>()
    for (const s of parsed.secrets) {
      if (typeof s?.name !== 'string' || !SECRET_NAME_PATTERN.test(s.name) || typeof s.envelope !== 'string' || typeof s.createdAt !== 'number' || typeof s.updatedAt !== 'number') {
        throw corrupt('a secret entry is malformed')
      }
      secrets.set(s.name, { name: s.name, createdAt: s.createdAt, updatedAt: s.updatedAt, envelope: s.envelope })
    }
    this.secrets = secrets
  }

  async stop(): Promise<void> {
    await this.writes.catch(() => {})
    this.opened.clear()
  }

  private checkName(name: unknown): asserts name is string {
    if (typeof name !== 'string' || !SECRET_NAME_PATTERN.test(name)) {
      throw new InvalidSecretError('name', 'a letter or digit, then letters, digits, ".", "_" or "-" (at most 128)')
    }
  }

  /** Runs `change` after the writes before it; the file is rewritten with what it returns, then memory follows. */
  private serial<T>(name: string, change: (current: Map<string, StoredSecret>) => Promise<{ next: Map<string, StoredSecret>; result: T }>): Promise<T> {
    const run = this.writes.then(async () => {
      const { next, result } = await change(this.secrets)
      if (next !== this.secrets) {
        const file: SecretsFile = { v: 1, secrets: [...next.values()] }
        await writeFileAtomic(this.path, `${JSON.stringify(file)}\n`, { mode: SECRET_FILE_MODE })
        this.secrets = next
        this.opened.delete(name)
      }
      return result
    })
    this.writes = run.then(
      () => undefined,
      () => undefined
    )
    return run
  }

  put(name: string, value: string): Promise<{ info: SecretInfo; created: boolean }> {
    this.checkName(name)
    if (typeof value !== 'string' || value.length === 0) throw new InvalidSecretError('value', 'must be a non-empty string')
    if (Buffer.byteLength(value, 'utf8') > this.maxBytes) throw new InvalidSecretError('value', `longer than ${this.maxBytes} bytes`)
    return this.serial(name, async (current) => {
      const existing = current.get(name)
      if (existing === undefined && current.size >= this.max) throw new SecretLimitError(this.max)
      const envelope = await this.components.qlock.encrypt(new TextEncoder().encode(value), this.binding(name))
      const now = Date.now()
      const stored: StoredSecret = {
        name,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
        envelope: Buffer.from(encodeEnvelope(envelope)).toString('base64')
      }
      const next = new Map(current)
      next.set(name, stored)
      return { next, result: { info: { name, createdAt: stored.createdAt, updatedAt: stored.updatedAt }, created: existing === undefined } }
    })
  }

  async get(name: string): Promise<string> {
    const stored = this.secrets.get(name)
    if (stored === undefined) throw new SecretNotFoundError(name)
    const cached = this.opened.get(name)
    if (cached !== undefined) return cached
    const envelope = decodeEnvelope(Buffer.from(stored.envelope, 'base64'), 'encrypted')
    const value = new TextDecoder().decode(await this.components.qlock.decrypt(envelope, this.binding(name)))
    // Stored again meanwhile: the newer value is the one to keep.
    if (this.secrets.get(name) === stored) this.opened.set(name, value)
    return value
  }

  has(name: string): boolean {
    return this.secrets.has(name)
  }

  list(): SecretInfo[] {
    return [...this.secrets.values()].map(({ name, createdAt, updatedAt }) => ({ name, createdAt, updatedAt })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  delete(name: string): Promise<boolean> {
    this.checkName(name)
    return this.serial(name, async (current) => {
      if (!current.has(name)) return { next: current, result: false }
      const next = new Map(current)
      next.delete(name)
      return { next, result: true }
    })
  }
}

/**
 * The node's secret store over its data directory and Qlock (see {@link SecretStore}).
 *
 * @example
 * ```ts
 * const secrets = nodeSecretStore()({ dataDir, qlock, subnet: 'default' })
 * await secrets.start()
 * await secrets.put('helpdesk-webhook-secret', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')
 * await secrets.get('helpdesk-webhook-secret') // 'whsec_…'
 * ```
 */
export function nodeSecretStore(init: SecretStoreInit = {}): (components: SecretStoreComponents) => SecretStore {
  return (components) => new SealedSecretStore(init, components)
}
