import { randomBytes } from 'node:crypto'
import { open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/**
 * Writes a file atomically: the bytes go to a temporary file in the same directory (created with
 * `mode`, flushed to disk), which then replaces `path` by rename, and the directory is flushed.
 * Readers see the old file or the new one, never half of one.
 */
export async function writeFileAtomic(path: string, data: Uint8Array, mode: number): Promise<void> {
  const dir = dirname(path)
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await open(temp, 'wx', mode)
  try {
    try {
      await handle.chmod(mode)
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, path)
  } catch (err) {
    await unlink(temp).catch(() => undefined)
    throw err
  }
  // Make the rename itself durable; some file systems cannot fsync a directory, which is fine.
  const dirHandle = await open(dir, 'r').catch(() => undefined)
  if (dirHandle !== undefined) {
    await dirHandle.sync().catch(() => undefined)
    await dirHandle.close()
  }
}
