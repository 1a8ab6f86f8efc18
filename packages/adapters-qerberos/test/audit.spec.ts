import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { payloadDigest } from '@qflow/pipeline'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AuditSinkError, type AuditRecord, qerberos } from '../src/index.js'
import { manualClock, mallory, operation } from './fixtures/operations.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qerberos-audit-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('audit records', () => {
  it('records every inspection in the ecosystem shape', async () => {
    const clock = manualClock(5_000)
    const q = qerberos({ audit: { layer: 'qflow-test' } })({ now: clock.now })
    const seen: AuditRecord[] = []
    q.onAudit((r) => seen.push(r))
    const op = operation({ payload: { total: 1 }, integrity: { expectedDigest: payloadDigest({ total: 2 }) }, traceId: 't-1' })
    await q.inspect(op)
    expect(seen).toHaveLength(1)
    const [record] = seen as [AuditRecord]
    expect(record).toMatchObject({
      type: 'inspect',
      ref: 'qflow:flow:invoices',
      actor: 'did:key:z6MkAlice',
      layer: 'qflow-test',
      verdict: 'DENY',
      at: 5_000,
      details: { traceId: 't-1', kind: 'exec.step', code: 'DIGEST_MISMATCH' }
    })
    expect(record.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(record.reason).toContain('Expected digest')
    expect(Object.keys(record).sort()).toEqual(['actor', 'at', 'details', 'id', 'layer', 'reason', 'ref', 'type', 'verdict'])
    expect(q.auditTrail()).toEqual([record])
  })

  it('records decisions as Qerberos itself', () => {
    const q = qerberos({ audit: { actor: 'did:key:z6MkNode' } })()
    const decision = q.contain({ action: 'block-identity', target: mallory.did, reason: 'stolen key' })
    expect(q.auditTrail()).toMatchObject([
      { type: 'decision', ref: mallory.did, actor: 'did:key:z6MkNode', verdict: 'DENY', reason: 'stolen key', details: { decision } }
    ])
  })

  it('keeps a bounded ring, oldest first, and stops notifying after unsubscribe', async () => {
    const q = qerberos({ audit: { capacity: 3 } })()
    const seen: string[] = []
    const unsubscribe = q.onAudit((r) => seen.push(String(r.details?.traceId)))
    q.onAudit(() => {
      throw new Error('a faulty subscriber')
    })
    for (let i = 0; i < 5; i++) await q.inspect(operation({ traceId: `t${i}` }))
    unsubscribe()
    await q.inspect(operation({ traceId: 't5' }))
    expect(q.auditTrail().map((r) => r.details?.traceId)).toEqual(['t3', 't4', 't5'])
    expect(seen).toEqual(['t0', 't1', 't2', 't3', 't4'])
    expect(q.stats().auditRecords).toBe(6)
  })

  it('appends JSON lines to a file, in batches, and flushes on stop', async () => {
    const file = join(dir, 'nested', 'audit.jsonl')
    const q = qerberos({ audit: { file, maxBatch: 1_000, flushIntervalMs: 60_000 } })()
    await q.start()
    for (let i = 0; i < 10; i++) await q.inspect(operation({ traceId: `t${i}` }))
    expect(q.stats().auditPending).toBe(10)
    await q.flushAudit()
    expect(q.stats().auditPending).toBe(0)
    q.contain({ action: 'pause-flow', target: 'invoices', reason: 'maintenance' })
    await q.stop()
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as AuditRecord)
    expect(lines.map((r) => r.type)).toEqual([...Array(10).fill('inspect'), 'decision'])
    expect(lines.slice(0, 10).map((r) => r.details?.traceId)).toEqual(Array.from({ length: 10 }, (_, i) => `t${i}`))
    expect(lines).toEqual(q.auditTrail())
  })

  it('writes a full batch without being asked', async () => {
    const file = join(dir, 'audit.jsonl')
    const q = qerberos({ audit: { file, maxBatch: 4, flushIntervalMs: 60_000 } })()
    for (let i = 0; i < 4; i++) await q.inspect(operation())
    await q.flushAudit()
    expect((await readFile(file, 'utf8')).trimEnd().split('\n')).toHaveLength(4)
    await q.stop()
  })

  it('keeps records queued and reports AuditSinkError when the file cannot be written', async () => {
    const blocker = join(dir, 'not-a-directory')
    await writeFile(blocker, 'x')
    const q = qerberos({ audit: { file: join(blocker, 'audit.jsonl'), maxPending: 5, flushIntervalMs: 60_000 } })()
    for (let i = 0; i < 3; i++) await q.inspect(operation())
    const err = await q.flushAudit().catch((e: unknown) => e)
    expect((err as Error).name).toBe(AuditSinkError.name)
    expect((err as AuditSinkError).pending).toBe(3)
    expect((err as AuditSinkError).retryable).toBe(true)
    for (let i = 0; i < 4; i++) await q.inspect(operation())
    expect(q.stats()).toMatchObject({ auditPending: 5, auditDropped: 2 })
    expect((await q.stop().catch((e: unknown) => e)) as Error).toHaveProperty('name', 'AuditSinkError')
    expect(q.auditTrail()).toHaveLength(7)
  })
})
