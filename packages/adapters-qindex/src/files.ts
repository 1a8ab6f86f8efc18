import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { BOOT_ID_PATH, OPEN_MARK_SUFFIX, SQLITE_HEADER } from './constants.js'

/** The files SQLite keeps beside a database in WAL mode. */
const SIDECARS = ['-wal', '-shm', '-journal'] as const

/** The size of a file, or undefined when there is none. */
export function fileSize(path: string): number | undefined {
  try {
    return statSync(path).size
  } catch {
    return undefined
  }
}

/** Whether a non-empty file starts with the SQLite header. */
export function hasSqliteHeader(path: string): boolean {
  const fd = openSync(path, 'r')
  try {
    const header = Buffer.alloc(SQLITE_HEADER.length)
    const read = readSync(fd, header, 0, header.length, 0)
    return read === header.length && header.toString('latin1') === SQLITE_HEADER
  } finally {
    closeSync(fd)
  }
}

/** Deletes a database file and its sidecars, if they exist. */
export function removeDatabaseFiles(path: string): void {
  rmSync(path, { force: true })
  removeSidecars(path)
}

/** Deletes the WAL, shared-memory and journal files beside a database (stale once it is closed). */
export function removeSidecars(path: string): void {
  for (const suffix of SIDECARS) rmSync(`${path}${suffix}`, { force: true })
}

/** Renames a database and its sidecars to `to`; returns `to`. */
export function moveDatabaseFiles(path: string, to: string): string {
  renameSync(path, to)
  for (const suffix of SIDECARS) {
    if (existsSync(`${path}${suffix}`)) renameSync(`${path}${suffix}`, `${to}${suffix}`)
  }
  return to
}

/**
 * Removes the copies of a broken database moved aside as `<path>.corrupt-<ms>` (with their
 * sidecars) beyond the `keep` newest; returns the paths removed.
 */
export function pruneCorruptCopies(path: string, keep: number): string[] {
  const prefix = `${basename(path)}.corrupt-`
  let names: string[]
  try {
    names = readdirSync(dirname(path))
  } catch {
    return []
  }
  const copies = names
    .filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
    .sort((a, b) => Number(b.slice(prefix.length)) - Number(a.slice(prefix.length)))
  const removed = copies.slice(keep).map((name) => join(dirname(path), name))
  for (const copy of removed) removeDatabaseFiles(copy)
  return removed
}

/** Flushes a file to disk. */
function fsyncFile(path: string): void {
  const fd = openSync(path, 'r+')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Flushes the directory holding `path`, so a rename, creation or removal in it is durable. */
function fsyncDirOf(path: string): void {
  try {
    const dir = openSync(dirname(path), 'r')
    try {
      fsyncSync(dir)
    } finally {
      closeSync(dir)
    }
  } catch {
    // Some file systems refuse to fsync a directory; the change itself is still atomic.
  }
}

/** Flushes a file, then renames it over `to` and flushes the directory: the swap survives a crash. */
export function durableRename(from: string, to: string): void {
  fsyncFile(from)
  renameSync(from, to)
  fsyncDirOf(to)
}

/** The id of the machine's current boot, or undefined where the system does not tell it (not Linux). */
export function currentBootId(): string | undefined {
  try {
    const id = readFileSync(BOOT_ID_PATH, 'latin1').trim()
    return id === '' ? undefined : id
  } catch {
    return undefined
  }
}

/** The boot id in the open mark beside a database, or undefined when there is no mark. */
export function readOpenMark(path: string): string | undefined {
  try {
    return readFileSync(`${path}${OPEN_MARK_SUFFIX}`, 'latin1').trim()
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined
    throw err
  }
}

/** Writes the open mark beside a database and makes it durable before any unsynced write follows. */
export function writeOpenMark(path: string, bootId: string): void {
  const mark = `${path}${OPEN_MARK_SUFFIX}`
  const fd = openSync(mark, 'w')
  try {
    writeSync(fd, `${bootId}\n`)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  fsyncDirOf(mark)
}

/** Flushes a closed database (and a WAL left beside it) to disk, then removes its open mark durably. */
export function syncAndClearOpenMark(path: string): void {
  for (const file of [path, `${path}-wal`]) if (existsSync(file)) fsyncFile(file)
  rmSync(`${path}${OPEN_MARK_SUFFIX}`, { force: true })
  fsyncDirOf(path)
}
