import { fork } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { IndexRecord } from '@qflow/pipeline'
import { describe, expect, it } from 'vitest'
import { type IndexCorruptError, MissingIndexSourceError, qindex } from '../src/index.js'
import { asyncSource, record } from './fixtures/records.js'
import { testScope } from './fixtures/scope.js'

// `crashRecovery: 'rebuild'` goes by Linux's boot id; elsewhere the index stays synced.
const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id'
const bootId = existsSync(BOOT_ID_PATH) ? readFileSync(BOOT_ID_PATH, 'latin1').trim() : undefined

const { dbPath, track, defer } = testScope()
const STATE: IndexRecord[] = Array.from({ length: 20 }, (_, i) => record(`exec-${i}`, { kind: 'execution', name: `run ${i}`, status: 'completed', updatedAt: 1000 + i }))
const mark = (path: string) => `${path}.open`

describe.runIf(bootId !== undefined)("crashRecovery: 'rebuild'", () => {
  it('marks the database open with the boot id while it runs; a stop syncs it and removes the mark', async () => {
    const path = dbPath()
    const index = qindex({ path, crashRecovery: 'rebuild' })({ source: () => asyncSource([]) })
    await index.start()
    expect(readFileSync(mark(path), 'latin1').trim()).toBe(bootId)
    expect(index.writesOffThread).toBe(true)
    await Promise.all(STATE.map((r) => index.put(r)))
    await index.stop()
    expect(existsSync(mark(path))).toBe(false)

    // A clean stop leaves a sound database that any index opens as it is.
    const again = track(qindex({ path })())
    await again.start()
    expect((await again.query({ kind: 'execution', limit: 100 })).records).toHaveLength(20)
    expect(await again.history('exec-3')).toHaveLength(1)
  })

  it('keeps every acknowledged put when the process dies with the database open (same boot: no rebuild)', async () => {
    const path = dbPath()
    const child = fork(join(import.meta.dirname, 'fixtures', 'put-then-hang.mjs'), [], { stdio: 'inherit' })
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)))
    defer(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    })
    const said = new Promise<{ written: number; offThread: boolean }>((resolve) => child.once('message', resolve as never))
    child.send({ path, records: STATE })
    expect(await said).toEqual({ written: 20, offThread: true })
    child.kill('SIGKILL')
    expect(await exited).toBe('SIGKILL')
    expect(readFileSync(mark(path), 'latin1').trim()).toBe(bootId)

    const corrupt: IndexCorruptError[] = []
    const rebuiltFrom: string[] = []
    const index = track(
      qindex({ path, crashRecovery: 'rebuild', onCorrupt: (e) => corrupt.push(e) })({
        source: () => {
          rebuiltFrom.push('source')
          return asyncSource([])
        }
      })
    )
    await index.start()
    expect(corrupt).toEqual([])
    expect(rebuiltFrom).toEqual([])
    expect((await index.query({ kind: 'execution', limit: 100 })).records.map((r) => r.key).sort()).toEqual(STATE.map((r) => r.key).sort())
  })

  it('moves the database aside and rebuilds it from the source when the mark is of another boot (the machine went down)', async () => {
    const path = dbPath()
    const first = qindex({ path, crashRecovery: 'rebuild' })({ source: () => asyncSource([]) })
    await first.start()
    await first.put(record('stale', { name: 'only in the old file' }))
    await first.stop()
    // What a machine that went down with the index open leaves: the mark of that boot.
    writeFileSync(mark(path), '00000000-0000-4000-8000-000000000000\n')

    const corrupt: IndexCorruptError[] = []
    const index = track(qindex({ path, crashRecovery: 'rebuild', onCorrupt: (e) => corrupt.push(e) })({ source: () => asyncSource(STATE) }))
    await index.start()
    expect(corrupt).toHaveLength(1)
    expect(corrupt[0]).toMatchObject({ name: 'IndexCorruptError', reason: 'machine-restarted', path })
    expect(corrupt[0]?.message).toMatch(/may be damaged \(machine-restarted\)/)
    expect(corrupt[0]?.movedTo).toMatch(/qindex\.sqlite\.corrupt-\d+$/)
    expect(existsSync(corrupt[0]?.movedTo as string)).toBe(true)
    expect(await index.get('stale')).toBeUndefined()
    expect((await index.query({ kind: 'execution', limit: 100 })).records).toHaveLength(20)
    expect(readFileSync(mark(path), 'latin1').trim()).toBe(bootId)
    expect(readdirSync(dirname(path)).filter((n) => n.startsWith(basename(path))).sort()).toEqual(
      [basename(path), `${basename(path)}.open`, basename(corrupt[0]?.movedTo as string), `${basename(path)}-shm`, `${basename(path)}-wal`].sort()
    )
  })

  it('refuses to run unsynced without a source to rebuild from (MissingIndexSourceError), leaving no mark', async () => {
    const path = dbPath()
    const index = qindex({ path, crashRecovery: 'rebuild' })()
    await expect(index.start()).rejects.toBeInstanceOf(MissingIndexSourceError)
    expect(existsSync(mark(path))).toBe(false)
    await index.stop()
  })

  it('an in-memory index has no files to mark', async () => {
    const index = track(qindex({ crashRecovery: 'rebuild' })({ source: () => asyncSource(STATE) }))
    await index.start()
    expect((await index.query({ kind: 'execution', limit: 100 })).records).toHaveLength(20)
  })
})
