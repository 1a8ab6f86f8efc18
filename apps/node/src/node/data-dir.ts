import { randomBytes } from 'node:crypto'
import { chmod, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createIdentity, createKeystore, type Identity, importIdentity, type Keystore, loadKeystore, saveKeystore } from '@qflow/adapters-squid'
import {
  ADMIN_IDENTITY_LABEL,
  DATA_DIR_LAYOUT,
  DATA_DIR_MODE,
  NODE_IDENTITY_LABEL,
  NODE_SECRET_BYTES,
  NODE_SECRET_LABEL,
  PASSPHRASE_ENV,
  SECRET_FILE_MODE
} from './constants.js'
import { DataDirCorruptError, DataDirLockedError, NodeConfigError, NodePassphraseError } from './errors.js'

/** The node's long-lived secrets, as read from (or first written to) the data directory. */
export interface NodeSecrets {
  /** The node identity: signs log entries, vouches for actors. */
  readonly node: Identity
  /** The admin identity the command line acts as. */
  readonly admin: Identity
  /** The 32-byte secret the Qlock keyring's master key is derived from. */
  readonly nodeSecret: Uint8Array
  /** Whether this start created them (the data directory was new). */
  readonly created: boolean
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Data directories this process holds (so a second node in the same process is refused too). */
const held = new Set<string>()

/** Creates the data directory (mode 0700) when missing; a path that is not a directory is an error. */
export async function ensureDataDir(dataDir: string): Promise<void> {
  try {
    const info = await stat(dataDir)
    if (!info.isDirectory()) throw new DataDirCorruptError(dataDir, dataDir, 'not a directory')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    await mkdir(dataDir, { recursive: true, mode: DATA_DIR_MODE })
  }
}

/**
 * Takes the data directory's lock: `<dataDir>/LOCK` holding this process's pid, created
 * exclusively. A lock whose pid is not a live process (it was killed) is stale and taken over.
 * Resolves with the release function.
 *
 * @throws {@link DataDirLockedError} when a live process holds it.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = join(dataDir, DATA_DIR_LAYOUT.lock)
  if (held.has(dataDir)) throw new DataDirLockedError(dataDir, process.pid)
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx', mode: SECRET_FILE_MODE })
      held.add(dataDir)
      return async () => {
        held.delete(dataDir)
        const holder = await readFile(file, 'utf8').catch(() => '')
        if (holder === String(process.pid)) await rm(file, { force: true })
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const text = await readFile(file, 'utf8').catch(() => '')
    const pid = Number.parseInt(text, 10)
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) throw new DataDirLockedError(dataDir, pid)
    // The holder is gone (killed; or its pid is now this process's, which holds no such lock): stale.
    await rm(file, { force: true })
  }
  throw new DataDirLockedError(dataDir)
}

async function writeSecretFile(path: string, bytes: Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`
  const handle = await open(temp, 'w', SECRET_FILE_MODE)
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await chmod(temp, SECRET_FILE_MODE)
  await rename(temp, path)
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

function seedOf(identity: Identity): Uint8Array {
  return new Uint8Array(Buffer.from(identity.export().seed, 'base64url'))
}

function pick(keystore: Keystore, label: string, dataDir: string, path: string): Identity {
  const entry = keystore.entries().find((e) => e.label === label)
  if (entry === undefined) throw new DataDirCorruptError(dataDir, path, `the keystore holds no "${label}" identity`)
  return entry.identity
}

/**
 * Reads the node's secrets, or creates them on first start.
 *
 * The keystore (`identity.keystore`, mode 0600) holds the node identity, the admin identity and
 * the node secret (32 random bytes, as the seed of a third entry). It is sealed (scrypt +
 * AES-256-GCM) with the passphrase when one is given; otherwise with the node secret itself, kept
 * in `node.secret` (mode 0600) beside it, which protects nothing against someone who can read the
 * data directory but lets a node start unattended.
 *
 * @throws {@link NodePassphraseError} when the keystore needs a passphrase that is missing or wrong.
 * @throws {@link DataDirCorruptError} when the keystore or the secret file cannot be used.
 */
export async function loadOrCreateSecrets(dataDir: string, passphrase: string | undefined): Promise<NodeSecrets> {
  const keystorePath = join(dataDir, DATA_DIR_LAYOUT.keystore)
  const secretPath = join(dataDir, DATA_DIR_LAYOUT.nodeSecret)
  if (!(await exists(keystorePath))) {
    const node = createIdentity()
    const admin = createIdentity()
    // The node secret: 32 random bytes, kept as the seed of a keystore entry.
    const secretHolder = importIdentity(randomBytes(NODE_SECRET_BYTES))
    const keystore = createKeystore()
    keystore.add(node, { label: NODE_IDENTITY_LABEL })
    keystore.add(admin, { label: ADMIN_IDENTITY_LABEL })
    keystore.add(secretHolder, { label: NODE_SECRET_LABEL })
    if (passphrase !== undefined) {
      await saveKeystore(keystorePath, keystore, passphrase)
    } else {
      // The node secret seals the keystore; it goes first, so a keystore is never on disk
      // without what opens it.
      const nodeSecret = seedOf(secretHolder)
      await writeSecretFile(secretPath, nodeSecret)
      await saveKeystore(keystorePath, keystore, nodeSecret)
    }
    return { node, admin, nodeSecret: seedOf(secretHolder), created: true }
  }
  return readNodeSecrets(dataDir, passphrase)
}

/**
 * Reads the node's secrets from an existing data directory without taking its lock (a running
 * node keeps it): what `qflow token issue --admin` signs with.
 *
 * @throws {@link NodeConfigError} when there is no keystore; {@link DataDirCorruptError} when it or the secret file cannot be used.
 * @throws {@link NodePassphraseError} when the keystore needs a passphrase that is missing or wrong.
 */
export async function readNodeSecrets(dataDir: string, passphrase: string | undefined): Promise<NodeSecrets> {
  const keystorePath = join(dataDir, DATA_DIR_LAYOUT.keystore)
  const secretPath = join(dataDir, DATA_DIR_LAYOUT.nodeSecret)
  if (!(await exists(keystorePath))) throw new NodeConfigError('dataDir', `${dataDir} holds no node keystore (${DATA_DIR_LAYOUT.keystore}): no node was started on this data directory`)
  let keystore: Keystore
  try {
    if (passphrase !== undefined) {
      keystore = await loadKeystore(keystorePath, passphrase)
    } else {
      let sealKey: Buffer
      try {
        sealKey = await readFile(secretPath)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NodePassphraseError(keystorePath)
        throw err
      }
      if (sealKey.length !== NODE_SECRET_BYTES) throw new DataDirCorruptError(dataDir, secretPath, `expected ${NODE_SECRET_BYTES} bytes, found ${sealKey.length}`)
      keystore = await loadKeystore(keystorePath, sealKey)
    }
  } catch (err) {
    const name = (err as Error).name
    if (name === 'KeystorePassphraseError') {
      throw passphrase === undefined
        ? new DataDirCorruptError(dataDir, secretPath, 'does not open the keystore', { cause: err })
        : new NodePassphraseError(keystorePath, `${PASSPHRASE_ENV} does not open the keystore ${keystorePath}`, { cause: err })
    }
    if (name === 'KeystoreCorruptError' || name === 'KeystoreVersionError') throw new DataDirCorruptError(dataDir, keystorePath, (err as Error).message, { cause: err })
    throw err
  }
  return {
    node: pick(keystore, NODE_IDENTITY_LABEL, dataDir, keystorePath),
    admin: pick(keystore, ADMIN_IDENTITY_LABEL, dataDir, keystorePath),
    nodeSecret: seedOf(pick(keystore, NODE_SECRET_LABEL, dataDir, keystorePath)),
    created: false
  }
}

