import { closeSync, existsSync, fsyncSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { SQLITE_HEADER } from './constants.js'

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

/** Flushes a file, then renames it over `to` and flushes the directory: the swap survives a crash. */
export function durableRename(from: string, to: string): void {
  const fd = openSync(from, 'r+')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(from, to)
  try {
    const dir = openSync(dirname(to), 'r')
    try {
      fsyncSync(dir)
    } finally {
      closeSync(dir)
    }
  } catch {
    // Some file systems refuse to fsync a directory; the rename itself is still atomic.
  }
}
