import { randomBytes } from 'node:crypto'
import { open, readFile, rename, unlink } from 'node:fs/promises'
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

/** A file's text, or `undefined` when there is no such file. */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/**
 * Writes a registry's JSON (pretty, one trailing line break) atomically, one write after another:
 * each waits for the one before, whether that one succeeded or not, so the last state wins.
 */
export class JsonFileWriter {
  private writing: Promise<void> = Promise.resolve()

  constructor(
    private readonly path: string,
    private readonly mode: number
  ) {}

  /** Writes what `body()` returns once the writes before have settled. */
  write(body: () => unknown): Promise<void> {
    const next = this.writing
      .catch(() => undefined)
      .then(() => writeFileAtomic(this.path, Buffer.from(`${JSON.stringify(body(), null, 2)}\n`, 'utf8'), this.mode))
    this.writing = next
    return next
  }
}
