import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { DEFAULT_DATA_DIR, DEFAULT_KEYRING_FILE, MIN_NODE_SECRET_LENGTH } from '../constants.js'
import { InvalidArgumentError, MissingComponentError } from '../errors.js'
import { KeyTable } from './key-table.js'
import type { SubnetKeyring } from './keyring.js'
import { decodeKeyringFile, encodeKeyringFile } from './keyring-file.js'
import { TableKeyring } from './table-keyring.js'

/** Options of {@link fileKeyring}. */
export interface FileKeyringInit {
  /** The node's data directory; the keyring file lives directly under it. Default `.qflow`. */
  dataDir?: string
  /** The keyring file's name inside `dataDir`. Default `qlock-keyring.bin`. */
  fileName?: string
  /** The clock stamped on keys, ms since the epoch. Default `Date.now`. */
  now?: () => number
}

/** What {@link fileKeyring} needs. */
export interface FileKeyringComponents {
  /**
   * The node secret (at least 32 bytes, high entropy) the keyring's master key is derived from.
   * Keep it apart from the data directory: whoever holds both holds every data key.
   */
  nodeSecret: Uint8Array
}

/** A keyring kept in an encrypted file; long-lived, with `start()`/`stop()`. */
export interface FileSubnetKeyring extends SubnetKeyring {
  /** The keyring file's absolute path. */
  readonly path: string
  /** Reads the keyring file (or starts empty when there is none yet). */
  start(): Promise<void>
  /** Waits for pending writes and forgets the keys held in memory. */
  stop(): Promise<void>
}

class FileKeyring extends TableKeyring implements FileSubnetKeyring {
  readonly path: string
  private readonly nodeSecret: Uint8Array

  constructor(path: string, nodeSecret: Uint8Array, now: () => number) {
    super(now)
    this.path = path
    this.nodeSecret = nodeSecret
  }

  async start(): Promise<void> {
    await this.loaded()
  }

  async stop(): Promise<void> {
    await this.unload()
  }

  protected async load(): Promise<KeyTable> {
    let bytes: Buffer
    try {
      bytes = await readFile(this.path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new KeyTable()
      throw err
    }
    return decodeKeyringFile(bytes, this.nodeSecret, this.path)
  }

  protected async persist(table: KeyTable): Promise<void> {
    const bytes = encodeKeyringFile(table.entries.values(), this.nodeSecret)
    const dir = dirname(this.path)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    // Write a private temporary file, flush it, then rename it over the keyring: a reader (or a
    // crash) sees the old file or the new one, never a mix.
    const temporary = `${this.path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
    const file = await open(temporary, 'wx', 0o600)
    try {
      try {
        await file.chmod(0o600)
        await file.writeFile(bytes)
        await file.sync()
      } finally {
        await file.close()
      }
      await rename(temporary, this.path)
    } catch (err) {
      await rm(temporary, { force: true })
      throw err
    } finally {
      bytes.fill(0)
    }
    // Flush the directory entry too, so the rename survives a power cut. Best effort: the new
    // file is already in place, and some file systems refuse to sync a directory.
    try {
      const directory = await open(dir, 'r')
      try {
        await directory.sync()
      } finally {
        await directory.close()
      }
    } catch {
      // The rename stands; only its durability across a power cut is not confirmed.
    }
  }
}

/**
 * The embedded keyring: per-subnet data keys kept in one file under the data directory, encrypted
 * (AES-256-GCM) under a master key derived by HKDF-SHA-256 from the node secret, rewritten
 * atomically (temporary file, fsync, rename) with mode 0600 on every change. Throws
 * {@link MissingComponentError} at construction without a node secret.
 *
 * @example
 * ```ts
 * const keyring = fileKeyring({ dataDir: '/var/lib/qflow' })({ nodeSecret })
 * await keyring.start()
 * ```
 */
export function fileKeyring(init: FileKeyringInit = {}): (components: FileKeyringComponents) => FileSubnetKeyring {
  return (components) => {
    const secret: unknown = components?.nodeSecret
    if (secret === undefined || secret === null) throw new MissingComponentError('nodeSecret', 'fileKeyring')
    if (!(secret instanceof Uint8Array) || secret.length < MIN_NODE_SECRET_LENGTH) {
      throw new InvalidArgumentError(`The node secret must be at least ${MIN_NODE_SECRET_LENGTH} bytes`, 'nodeSecret')
    }
    const path = resolve(join(init.dataDir ?? DEFAULT_DATA_DIR, init.fileName ?? DEFAULT_KEYRING_FILE))
    return new FileKeyring(path, Uint8Array.from(secret), init.now ?? Date.now)
  }
}
