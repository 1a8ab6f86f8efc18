import { appendFile, mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type ConsentGrant, createEmbeddedQonsent, type EmbeddedQonsent, type EmbeddedQonsentInit, GRANT_LOG_FILE, signGrant } from '../src/index.js'
import { ALICE, BOB, OWNER, TestIdentities } from './fixtures/identities.js'
import { removeTempDirs, tempDir } from './fixtures/temp.js'

const open: EmbeddedQonsent[] = []

async function fileQonsent(dataDir: string, init: EmbeddedQonsentInit = {}, components = {}): Promise<EmbeddedQonsent> {
  const qonsent = await createEmbeddedQonsent({ dataDir, ...init }, components)
  open.push(qonsent)
  return qonsent
}

async function stop(qonsent: EmbeddedQonsent): Promise<void> {
  open.splice(open.indexOf(qonsent), 1)
  await qonsent.stop()
}

function grant(id: string, fields: Partial<ConsentGrant> = {}): ConsentGrant {
  return { id, subject: ALICE, resource: 'qflow:flow:f1', actions: ['read'], effect: 'allow', grantedBy: OWNER, ...fields }
}

const read = { subject: ALICE, resource: 'qflow:flow:f1', action: 'read' }

async function logLines(dir: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(dir, GRANT_LOG_FILE), 'utf8')
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((q) => q.stop()))
  await removeTempDirs()
})

describe('embedded Qonsent: persistence', () => {
  it('keeps grants and revocations across restarts, as an append-only log', async () => {
    const dir = await tempDir()
    const first = await fileQonsent(dir)
    await first.grant(grant('g1'))
    await first.grant(grant('g2', { subject: BOB }))
    await first.grant(grant('d1', { subject: BOB, resource: 'qflow:flow:*', actions: ['*'], effect: 'deny', conditions: { subnet: 'dao-x' } }))
    await first.revoke('g2', OWNER, 'moved on')
    await stop(first)
    const lines = await logLines(dir)
    expect(lines.map((l) => [l.op, (l.grant as ConsentGrant | undefined)?.id ?? l.id])).toEqual([
      ['grant', 'g1'],
      ['grant', 'g2'],
      ['grant', 'd1'],
      ['revoke', 'g2']
    ])
    expect(lines[3]).toMatchObject({ v: 1, by: OWNER, reason: 'moved on' })

    const second = await fileQonsent(dir)
    expect((await second.check(read)).grantId).toBe('g1')
    expect((await second.check({ ...read, subject: BOB })).allowed).toBe(false)
    expect(second.get('d1')?.conditions).toEqual({ subnet: 'dao-x' })
    await expect(second.grant(grant('g2'))).rejects.toMatchObject({ name: 'DuplicateGrantError', revoked: true })
    expect(second.stats()).toMatchObject({ grants: 2, retired: 1, load: { applied: 4, skippedLines: [] } })
  })

  it('names the corrupt line and loads nothing, leaving the file untouched', async () => {
    const dir = await tempDir()
    const first = await fileQonsent(dir)
    await first.grant(grant('g1'))
    await first.grant(grant('g2'))
    await first.grant(grant('g3'))
    await stop(first)
    const file = join(dir, GRANT_LOG_FILE)
    const lines = (await readFile(file, 'utf8')).split('\n')
    lines[1] = lines[1]!.slice(0, 30)
    const damaged = lines.join('\n')
    await writeFile(file, damaged)
    await expect(createEmbeddedQonsent({ dataDir: dir })).rejects.toMatchObject({ name: 'GrantLogCorruptError', file, line: 2 })
    expect(await readFile(file, 'utf8')).toBe(damaged)
    // The failed start released the lock: a tolerant start loads every other line.
    const tolerant = await fileQonsent(dir, { corruptLines: 'skip' })
    expect(tolerant.list().map((g) => g.id)).toEqual(['g1', 'g3'])
    expect(tolerant.stats().load?.skippedLines).toEqual([2])
    // Compacting a log that had skipped lines first keeps a copy of it.
    await tolerant.compact()
    const backups = (await readdir(dir)).filter((name) => name.startsWith(`${GRANT_LOG_FILE}.bak-`))
    expect(backups).toHaveLength(1)
    expect(await readFile(join(dir, backups[0]!), 'utf8')).toBe(damaged)
  })

  it('names a line that is valid JSON but not a valid event', async () => {
    const dir = await tempDir()
    const file = join(dir, GRANT_LOG_FILE)
    const good = JSON.stringify({ v: 1, op: 'grant', at: 1, grant: grant('g1') })
    await writeFile(file, `${good}\n${JSON.stringify({ v: 1, op: 'grant', at: 2, grant: { ...grant('g2'), resource: 'a:**:b' } })}\n`)
    await expect(createEmbeddedQonsent({ dataDir: dir })).rejects.toMatchObject({ name: 'GrantLogCorruptError', line: 2 })
    await writeFile(file, `${good}\n${JSON.stringify({ v: 1, op: 'revoke', at: 2, id: 'nope', by: OWNER })}\n`)
    await expect(createEmbeddedQonsent({ dataDir: dir })).rejects.toMatchObject({ name: 'GrantLogCorruptError', line: 2 })
    await writeFile(file, `${good}\n\n${good}\n`)
    await expect(createEmbeddedQonsent({ dataDir: dir })).rejects.toMatchObject({ name: 'GrantLogCorruptError', line: 3 })
    await writeFile(file, `${good}\n${JSON.stringify({ v: 2, op: 'grant', at: 1, grant: grant('g2') })}\n`)
    await expect(createEmbeddedQonsent({ dataDir: dir })).rejects.toMatchObject({ name: 'GrantLogCorruptError', line: 2 })
  })

  it('moves a torn last line aside and goes on appending after the good ones', async () => {
    const dir = await tempDir()
    const first = await fileQonsent(dir)
    await first.grant(grant('g1'))
    await stop(first)
    const file = join(dir, GRANT_LOG_FILE)
    const before = await readFile(file, 'utf8')
    await appendFile(file, '{"v":1,"op":"grant","at":5,"gra')
    const second = await fileQonsent(dir)
    const torn = second.stats().load?.tornTailSavedTo
    expect(torn).toBeDefined()
    expect(await readFile(torn!, 'utf8')).toBe('{"v":1,"op":"grant","at":5,"gra')
    expect(await readFile(file, 'utf8')).toBe(before)
    await second.grant(grant('g2'))
    await stop(second)
    const third = await fileQonsent(dir)
    expect(third.list().map((g) => g.id)).toEqual(['g1', 'g2'])
  })

  it('keeps a complete last line whose newline was lost', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, GRANT_LOG_FILE), JSON.stringify({ v: 1, op: 'grant', at: 1, grant: grant('g1') }))
    const first = await fileQonsent(dir)
    await first.grant(grant('g2'))
    await stop(first)
    expect((await logLines(dir)).map((l) => (l.grant as ConsentGrant).id)).toEqual(['g1', 'g2'])
  })

  it('refuses a change it could not log, leaving it without effect', async () => {
    const dir = await tempDir()
    const qonsent = await fileQonsent(dir)
    // The log file cannot be opened for appending: something else sits at its path.
    await mkdir(join(dir, GRANT_LOG_FILE))
    await expect(qonsent.grant(grant('g1'))).rejects.toMatchObject({ name: 'GrantLogWriteError', retryable: true, file: join(dir, GRANT_LOG_FILE) })
    expect(qonsent.get('g1')).toBeUndefined()
    expect((await qonsent.check(read)).allowed).toBe(false)
    await rmdir(join(dir, GRANT_LOG_FILE))
    await qonsent.grant(grant('g1'))
    expect((await qonsent.check(read)).allowed).toBe(true)
  })

  it('keeps a second process (or instance) out of the data directory', async () => {
    const dir = await tempDir()
    await fileQonsent(dir)
    await expect(createEmbeddedQonsent({ dataDir: dir })).rejects.toMatchObject({ name: 'QonsentStoreLockedError', dataDir: dir, pid: process.pid })
  })

  it('takes over a stale lock left by a dead process', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'LOCK'), '2147483646')
    const qonsent = await fileQonsent(dir)
    await qonsent.grant(grant('g1'))
    expect(await readFile(join(dir, 'LOCK'), 'utf8')).toBe(String(process.pid))
  })

  it('compacts the log to live grants and tombstones, atomically, keeping decisions', async () => {
    const dir = await tempDir()
    const first = await fileQonsent(dir)
    for (let i = 0; i < 20; i++) await first.grant(grant(`g${i}`, { resource: `qflow:flow:f${i}` }))
    for (let i = 0; i < 15; i++) await first.revoke(`g${i}`, OWNER)
    await first.compact()
    expect((await readdir(dir)).sort()).toEqual(['LOCK', GRANT_LOG_FILE])
    const lines = await logLines(dir)
    expect(lines.filter((l) => l.op === 'grant')).toHaveLength(5)
    expect(lines.filter((l) => l.op === 'tombstone')).toHaveLength(15)
    await first.grant(grant('after'))
    await stop(first)
    const second = await fileQonsent(dir)
    expect(second.list().map((g) => g.id)).toEqual(['g15', 'g16', 'g17', 'g18', 'g19', 'after'])
    await expect(second.grant(grant('g3'))).rejects.toMatchObject({ name: 'DuplicateGrantError', revoked: true })
    expect((await second.check({ ...read, resource: 'qflow:flow:f16' })).grantId).toBe('g16')
  })

  it('re-verifies every grant signature on load when signatures are required', async () => {
    const dir = await tempDir()
    const identities = new TestIdentities()
    const first = await fileQonsent(dir, { requireSignatures: true }, { identity: identities.verifier })
    await first.grant(await signGrant(grant('g1'), identities.signer(OWNER)))
    await first.grant(await signGrant(grant('g2', { subject: BOB }), identities.signer(OWNER)))
    await stop(first)
    const verifiedBefore = identities.verified
    const second = await fileQonsent(dir, { requireSignatures: true }, { identity: identities.verifier })
    expect(identities.verified - verifiedBefore).toBe(2)
    await stop(second)
    // Someone edits the log to widen g2 (keeping its signature).
    const file = join(dir, GRANT_LOG_FILE)
    const edited = (await logLines(dir)).map((line) => {
      const g = line.grant as ConsentGrant
      return JSON.stringify(g.id === 'g2' ? { ...line, grant: { ...g, actions: ['admin'] } } : line)
    })
    await writeFile(file, `${edited.join('\n')}\n`)
    await expect(createEmbeddedQonsent({ dataDir: dir, requireSignatures: true }, { identity: identities.verifier })).rejects.toMatchObject({
      name: 'GrantLogCorruptError',
      line: 2
    })
  })

  it('writes the audit trail to an append-only JSONL file in batches', async () => {
    const dir = await tempDir()
    const auditFile = join(dir, 'audit', 'qonsent.jsonl')
    const qonsent = await fileQonsent(dir, { auditFile, auditBatchSize: 3 })
    await qonsent.grant(grant('g1'))
    for (let i = 0; i < 4; i++) await qonsent.check({ ...read, subject: i % 2 === 0 ? ALICE : BOB })
    await qonsent.flushAudit()
    const records = (await readFile(auditFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(records.map((r) => [r.type, r.actor, r.verdict])).toEqual([
      ['GRANT_ADDED', OWNER, 'ALLOW'],
      ['CONSENT_CHECK', ALICE, 'ALLOW'],
      ['CONSENT_CHECK', BOB, 'DENY'],
      ['CONSENT_CHECK', ALICE, 'ALLOW'],
      ['CONSENT_CHECK', BOB, 'DENY']
    ])
    expect(qonsent.stats().audit).toMatchObject({ recorded: 5, written: 5, dropped: 0, pending: 0 })
    await qonsent.check(read)
    await stop(qonsent)
    expect((await readFile(auditFile, 'utf8')).trim().split('\n')).toHaveLength(6)
  })

  it('drops audit records past its limit and says so in the file', async () => {
    const dir = await tempDir()
    const auditFile = join(dir, 'audit.jsonl')
    const qonsent = await fileQonsent(dir, { persistence: 'memory', auditFile, auditBatchSize: 1_000, auditMaxPending: 3, auditFlushMs: 60_000 })
    for (let i = 0; i < 5; i++) await qonsent.check({ ...read, resource: `qflow:flow:f${i}` })
    await qonsent.flushAudit()
    const records = (await readFile(auditFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(records.map((r) => r.ref)).toEqual(['qflow:flow:f0', 'qflow:flow:f1', 'qflow:flow:f2', 'audit'])
    expect(records[3]).toMatchObject({ type: 'AUDIT_DROPPED', verdict: 'WARN', reason: '2 audit records were dropped: the audit file fell behind' })
    expect(qonsent.stats().audit.dropped).toBe(2)
  })
})
