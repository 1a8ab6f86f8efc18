import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { issueToken } from '@qflow/adapters-squid'
import type { Signer } from '@qflow/pipeline'
import { DEFAULT_AUDIENCE, SECRET_FILE_MODE } from '../node/constants.js'
import { writeFileAtomic } from '../write.js'
import { DAEMON_FILES } from './constants.js'

/** The admin token issued on a node's first start as a daemon. */
export interface AdminToken {
  /** The bearer token (`qflow login --api <url> --token <token>`). */
  readonly token: string
  /** The admin identity it authenticates. */
  readonly did: string
  /** When it was issued, ms since the epoch. */
  readonly issuedAt: number
  /** When it expires, ms since the epoch. */
  readonly expiresAt: number
}

/** What `admin-token.json` records: that a token was printed, for whom and until when; never the token. */
export interface AdminTokenRecord {
  readonly did: string
  readonly issuedAt: number
  readonly expiresAt: number
}

/** Reads the record of the printed admin token, or undefined when none was printed yet. */
export async function readAdminTokenRecord(dataDir: string): Promise<AdminTokenRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(dataDir, DAEMON_FILES.adminToken), 'utf8')) as AdminTokenRecord
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/**
 * Issues the admin identity a long-lived token and hands it to `show`, once per data directory:
 * after `show` returns, `admin-token.json` (mode 0600, without the token) records it, and later
 * calls issue nothing and resolve undefined. A process that dies before the record is written
 * shows a new token on its next start. The token is kept nowhere: a lost token is replaced by
 * `qflow token issue --admin` (the old one stays valid until it expires or is revoked: `qflow token revoke`).
 */
export async function issueAdminTokenOnce(
  admin: Signer,
  dataDir: string,
  ttlMs: number,
  show: (token: AdminToken) => void | Promise<void>
): Promise<AdminToken | undefined> {
  if ((await readAdminTokenRecord(dataDir)) !== undefined) return undefined
  const issuedAt = Date.now()
  const token = await issueToken(admin, { audience: DEFAULT_AUDIENCE, ttlMs, now: issuedAt })
  // issueToken counts whole seconds from the second it was issued in.
  const expiresAt = (Math.floor(issuedAt / 1000) + Math.max(1, Math.round(ttlMs / 1000))) * 1000
  const issued: AdminToken = { token, did: admin.did, issuedAt, expiresAt }
  await show(issued)
  const record: AdminTokenRecord = { did: admin.did, issuedAt, expiresAt }
  await writeFileAtomic(join(dataDir, DAEMON_FILES.adminToken), `${JSON.stringify(record)}\n`, { mode: SECRET_FILE_MODE })
  return issued
}
