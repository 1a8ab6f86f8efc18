import { randomBytes } from 'node:crypto'
import { chmod, link, open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o666 less the umask). */
  mode?: number
  /** Replace an existing file (default true); when false an existing file fails with `EEXIST`. */
  overwrite?: boolean
}

/**
 * Writes a file so that readers see the old content or the whole new content, never a part: the
 * data goes to a temporary file in the same directory, is flushed to disk, then renamed over the
 * target (or, without `overwrite`, hard-linked to it, which fails if the target exists).
 *
 * @throws the file system's error (`EEXIST`, `ENOENT`, `EACCES`, …); the temporary file is removed.
 */
export async function writeFileAtomic(path: string, data: string, options: AtomicWriteOptions = {}): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await open(temp, 'wx', options.mode ?? 0o666)
  try {
    try {
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
    // an explicit mode must hold whatever the umask
    if (options.mode !== undefined) await chmod(temp, options.mode)
    if (options.overwrite === false) {
      await link(temp, path)
      await unlink(temp)
    } else {
      await rename(temp, path)
    }
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw err
  }
}

/** A short reason for a failed write, for messages: "file exists", "no such directory", … */
export function writeFailureReason(err: unknown): string {
  switch ((err as { code?: unknown } | null)?.code) {
    case 'EEXIST':
      return 'file exists'
    case 'ENOENT':
      return 'no such directory'
    case 'EACCES':
    case 'EPERM':
      return 'permission denied'
    case 'EISDIR':
      return 'is a directory'
    case 'ENOSPC':
      return 'no space left on the device'
    default:
      return err instanceof Error ? err.message : String(err)
  }
}
