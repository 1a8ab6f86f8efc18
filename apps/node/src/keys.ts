import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { KEY_FILE_MODE } from './constants.js'
import { KeyFileError, OutputFileError } from './errors.js'
import type { CliIo } from './io.js'
import { writeFailureReason, writeFileAtomic } from './write.js'

/**
 * Reads an ed25519 private key from a PKCS#8 PEM file (`openssl genpkey -algorithm ed25519`).
 *
 * @throws {@link KeyFileError} when the file cannot be read or holds anything else.
 */
export async function readPrivateKey(path: string, io: CliIo): Promise<KeyObject> {
  let pem: string
  try {
    pem = await readFile(resolve(io.cwd, path), 'utf8')
  } catch (err) {
    const code = (err as { code?: string }).code
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String((err as Error).message)
    throw new KeyFileError(path, `Cannot read key file ${path}: ${why}`, { cause: err })
  }
  let key: KeyObject
  try {
    key = createPrivateKey({ key: pem, format: 'pem' })
  } catch (err) {
    throw new KeyFileError(path, `${path} does not hold a PEM private key`, { cause: err })
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new KeyFileError(path, `${path} holds a ${key.asymmetricKeyType ?? 'non-asymmetric'} key; flows are signed with ed25519`)
  }
  return key
}

/** The public half of a private key. */
export function publicKeyOf(privateKey: KeyObject): KeyObject {
  return createPublicKey(privateKey)
}

/**
 * Generates an ed25519 key pair and writes the private key as PKCS#8 PEM with mode 0600, atomically
 * (never a partly written key). An existing file is kept unless `overwrite` is set.
 *
 * @throws {@link OutputFileError} when the file exists (without `overwrite`) or cannot be written.
 */
export async function writeNewPrivateKey(path: string, io: CliIo, overwrite: boolean): Promise<KeyObject> {
  const { privateKey } = generateKeyPairSync('ed25519')
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  const absolute = resolve(io.cwd, path)
  try {
    await writeFileAtomic(absolute, pem, { mode: KEY_FILE_MODE, overwrite })
  } catch (err) {
    const reason = writeFailureReason(err)
    const why = reason === 'file exists' ? 'file exists (use --force to replace it)' : reason
    throw new OutputFileError(path, `Cannot write key file ${path}: ${why}`, { cause: err })
  }
  return privateKey
}
