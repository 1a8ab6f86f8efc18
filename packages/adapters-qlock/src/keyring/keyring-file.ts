import { randomFillSync } from 'node:crypto'
import { aeadDecrypt, aeadEncrypt, randomNonce } from '../aead.js'
import { KEY_LENGTH, KEYRING_KEK_INFO, NONCE_LENGTH, TAG_LENGTH } from '../constants.js'
import { KeyringDecryptionError, KeyringFormatError } from '../errors.js'
import { hkdfSha256 } from '../kdf.js'
import { type KeyEntry, KeyTable, makeEntry } from './key-table.js'
import type { SubnetKeyInfo, SubnetKeyStatus } from './keyring.js'

/*
 * Keyring file, version 1:
 *
 *   "QLKR" | 0x01 (version) | 0x01 (AES-256-GCM) | salt (16) | nonce (12) | ciphertext + tag
 *
 * The master key (KEK) is HKDF-SHA-256(node secret, salt, "qflow/qlock/keyring-kek/v1"); the
 * 34-byte header is the associated data, so none of it can change unnoticed. A fresh salt and
 * nonce are drawn on every write. The plaintext is the key table:
 *
 *   0x01 (table version) | u32 count | entries
 *   entry: u8 kid length | kid (UTF-8) | u32 subnet length | subnet (UTF-8) | u8 status
 *          (1 active, 2 retired, 3 destroyed) | f64 createdAt | u8 flags (bit 0 retiredAt,
 *          bit 1 destroyedAt) | f64 retiredAt? | f64 destroyedAt? | 32-byte key unless destroyed
 */

const MAGIC = Buffer.from('QLKR', 'ascii')
const FILE_VERSION = 1
const FILE_ALG_A256GCM = 1
const SALT_LENGTH = 16
/** Length of the authenticated file header. */
export const KEYRING_HEADER_LENGTH = MAGIC.length + 2 + SALT_LENGTH + NONCE_LENGTH
const TABLE_VERSION = 1
const STATUS_CODES: readonly SubnetKeyStatus[] = ['active', 'retired', 'destroyed']
const FLAG_RETIRED = 1
const FLAG_DESTROYED = 2

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Derives the keyring master key from the node secret and the file's salt (HKDF-SHA-256). */
export function keyringMasterKey(nodeSecret: Uint8Array, salt: Uint8Array): Buffer {
  return hkdfSha256(nodeSecret, salt, KEYRING_KEK_INFO, KEY_LENGTH)
}

/** Serializes the key table (the plaintext of the keyring file). */
export function encodeKeyTable(entries: Iterable<KeyEntry>): Buffer {
  const list = [...entries]
  let length = 1 + 4
  for (const { info, material } of list) {
    length += 1 + Buffer.byteLength(info.kid, 'utf8') + 4 + Buffer.byteLength(info.subnet, 'utf8') + 1 + 8 + 1
    if (info.retiredAt !== undefined) length += 8
    if (info.destroyedAt !== undefined) length += 8
    if (material !== undefined) length += KEY_LENGTH
  }
  const out = Buffer.alloc(length)
  out[0] = TABLE_VERSION
  out.writeUInt32BE(list.length, 1)
  let at = 5
  for (const { info, material } of list) {
    const kidLength = out.write(info.kid, at + 1, 'utf8')
    out[at] = kidLength
    at += 1 + kidLength
    const subnetLength = out.write(info.subnet, at + 4, 'utf8')
    out.writeUInt32BE(subnetLength, at)
    at += 4 + subnetLength
    out[at++] = STATUS_CODES.indexOf(info.status) + 1
    out.writeDoubleBE(info.createdAt, at)
    at += 8
    out[at++] = (info.retiredAt === undefined ? 0 : FLAG_RETIRED) | (info.destroyedAt === undefined ? 0 : FLAG_DESTROYED)
    if (info.retiredAt !== undefined) at = out.writeDoubleBE(info.retiredAt, at)
    if (info.destroyedAt !== undefined) at = out.writeDoubleBE(info.destroyedAt, at)
    if (material !== undefined) at += material.copy(out, at)
  }
  return out
}

class TableReader {
  at = 0
  constructor(
    private readonly bytes: Buffer,
    private readonly path: string | undefined
  ) {}

  fail(message: string): never {
    throw new KeyringFormatError(message, { path: this.path, offset: this.at })
  }

  take(n: number, what: string): Buffer {
    if (this.at + n > this.bytes.length) this.fail(`Keyring table truncated in ${what}`)
    const out = this.bytes.subarray(this.at, this.at + n)
    this.at += n
    return out
  }

  u8(what: string): number {
    return this.take(1, what)[0] as number
  }

  u32(what: string): number {
    return this.take(4, what).readUInt32BE(0)
  }

  time(what: string): number {
    const value = this.take(8, what).readDoubleBE(0)
    if (!Number.isSafeInteger(value) || value < 0) this.fail(`Keyring ${what} is not a time`)
    return value
  }

  text(n: number, what: string): string {
    const bytes = this.take(n, what)
    try {
      return utf8.decode(bytes)
    } catch {
      return this.fail(`Keyring ${what} is not UTF-8`)
    }
  }

  get done(): boolean {
    return this.at === this.bytes.length
  }
}

/**
 * Parses a key table, strictly: every length checked, no trailing bytes, unique key ids, at most
 * one active key per subnet, statuses consistent with their timestamps. Throws
 * {@link KeyringFormatError}.
 */
export function decodeKeyTable(bytes: Buffer, path?: string): KeyTable {
  const r = new TableReader(bytes, path)
  if (r.u8('version') !== TABLE_VERSION) r.fail('Unknown keyring table version')
  const count = r.u32('count')
  const table = new KeyTable()
  for (let i = 0; i < count; i++) {
    const kidLength = r.u8('key id length')
    if (kidLength === 0) r.fail('Empty key id')
    const kid = r.text(kidLength, 'key id')
    const subnetLength = r.u32('subnet length')
    if (subnetLength === 0) r.fail('Empty subnet')
    const subnet = r.text(subnetLength, 'subnet')
    const code = r.u8('status')
    const status = STATUS_CODES[code - 1]
    if (status === undefined) return r.fail('Unknown key status')
    const createdAt = r.time('createdAt')
    const flags = r.u8('flags')
    if ((flags & ~(FLAG_RETIRED | FLAG_DESTROYED)) !== 0) r.fail('Unknown key flags')
    const retiredAt = (flags & FLAG_RETIRED) !== 0 ? r.time('retiredAt') : undefined
    const destroyedAt = (flags & FLAG_DESTROYED) !== 0 ? r.time('destroyedAt') : undefined
    if (status === 'active' && (retiredAt !== undefined || destroyedAt !== undefined)) r.fail('An active key has retirement times')
    if (status === 'retired' && (retiredAt === undefined || destroyedAt !== undefined)) r.fail('A retired key needs retiredAt alone')
    if (status === 'destroyed' && destroyedAt === undefined) r.fail('A destroyed key needs destroyedAt')
    if (table.entries.has(kid)) r.fail(`Duplicate key id ${JSON.stringify(kid)}`)
    if (status === 'active' && table.active(subnet) !== undefined) r.fail(`Two active keys for subnet ${JSON.stringify(subnet)}`)
    let info: SubnetKeyInfo = { kid, subnet, status, createdAt }
    if (retiredAt !== undefined) info = { ...info, retiredAt }
    if (destroyedAt !== undefined) info = { ...info, destroyedAt }
    if (status === 'destroyed') {
      table.replace(makeEntry(info))
    } else {
      const material = Buffer.alloc(KEY_LENGTH)
      r.take(KEY_LENGTH, 'key material').copy(material)
      table.replace(makeEntry(info, material))
    }
  }
  if (!r.done) r.fail('Trailing bytes after the keyring table')
  return table
}

/** Encrypts a key table into keyring file bytes under a master key derived from `nodeSecret`. */
export function sealKeyringFile(table: Buffer, nodeSecret: Uint8Array): Buffer {
  const header = Buffer.alloc(KEYRING_HEADER_LENGTH)
  MAGIC.copy(header, 0)
  header[4] = FILE_VERSION
  header[5] = FILE_ALG_A256GCM
  const salt = header.subarray(6, 6 + SALT_LENGTH)
  randomFillSync(salt)
  randomNonce().copy(header, 6 + SALT_LENGTH)
  const kek = keyringMasterKey(nodeSecret, salt)
  try {
    const body = aeadEncrypt('A256GCM', kek, header.subarray(6 + SALT_LENGTH), table, header)
    return Buffer.concat([header, body])
  } finally {
    kek.fill(0)
  }
}

/**
 * Opens keyring file bytes and returns the key table's plaintext (the caller parses and zeroes it).
 * Throws {@link KeyringFormatError} when the bytes are not a keyring file and
 * {@link KeyringDecryptionError} when they do not authenticate under this node secret.
 */
export function openKeyringFile(file: Uint8Array, nodeSecret: Uint8Array, path?: string): Buffer {
  const bytes = Buffer.from(file.buffer, file.byteOffset, file.byteLength)
  if (bytes.length < KEYRING_HEADER_LENGTH + TAG_LENGTH) {
    throw new KeyringFormatError('Keyring file truncated', { path, offset: bytes.length })
  }
  if (!bytes.subarray(0, 4).equals(MAGIC)) throw new KeyringFormatError('Not a keyring file (bad magic)', { path, offset: 0 })
  if (bytes[4] !== FILE_VERSION) throw new KeyringFormatError('Unknown keyring file version', { path, offset: 4 })
  if (bytes[5] !== FILE_ALG_A256GCM) throw new KeyringFormatError('Unknown keyring file algorithm', { path, offset: 5 })
  const header = bytes.subarray(0, KEYRING_HEADER_LENGTH)
  const kek = keyringMasterKey(nodeSecret, header.subarray(6, 6 + SALT_LENGTH))
  try {
    const plaintext = aeadDecrypt('A256GCM', kek, header.subarray(6 + SALT_LENGTH), bytes.subarray(KEYRING_HEADER_LENGTH), header)
    if (plaintext === undefined) throw new KeyringDecryptionError(path)
    return plaintext
  } finally {
    kek.fill(0)
  }
}

/** Writes a table as keyring file bytes. */
export function encodeKeyringFile(entries: Iterable<KeyEntry>, nodeSecret: Uint8Array): Buffer {
  const table = encodeKeyTable(entries)
  try {
    return sealKeyringFile(table, nodeSecret)
  } finally {
    table.fill(0)
  }
}

/** Reads keyring file bytes into a table. Throws {@link KeyringFormatError} or {@link KeyringDecryptionError}. */
export function decodeKeyringFile(file: Uint8Array, nodeSecret: Uint8Array, path?: string): KeyTable {
  const plaintext = openKeyringFile(file, nodeSecret, path)
  try {
    return decodeKeyTable(plaintext, path)
  } finally {
    plaintext.fill(0)
  }
}
