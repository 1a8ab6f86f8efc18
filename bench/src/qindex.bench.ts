import { mkdtemp, rm, stat } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { qindex, type SqliteQindex } from '@qflow/adapters-qindex'
import type { IndexQuery, IndexRecord } from '@qflow/pipeline'
import { type Measurement, measure } from './harness.js'

const RECORDS = 100_000
const TARGET_TAG_STATUS_MS = 5

/** Deterministic generator (mulberry32): the same 100k records on every run. */
function seeded(seed: number): () => number {
  let s = seed | 0
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const DOMAIN = ['invoice', 'approval', 'payroll', 'onboarding', 'audit', 'report', 'sync', 'backup', 'webhook', 'ingest', 'notify', 'billing']
const STATUSES = ['active', 'draft', 'running', 'completed', 'failed', 'paused']
const vocabularyWord = (i: number): string => `w${i.toString(36)}${'aeiou'[i % 5]}`

/**
 * 100k records: 20% flows, 30% versions, 50% executions; 1,000 owners, 10 subnets, 12 categories,
 * 6 statuses; 1-4 tags each from 200, skewed (tag-0 is on ~16% of records, tag-199 on ~0.6%);
 * names and descriptions from a 2,000-word vocabulary plus domain words; a year of timestamps.
 */
function dataset(): IndexRecord[] {
  const rnd = seeded(2026)
  const int = (n: number): number => Math.floor(rnd() * n)
  const vocabulary = Array.from({ length: 2000 }, (_, i) => vocabularyWord(i))
  const word = (): string => (rnd() < 0.2 ? (DOMAIN[int(DOMAIN.length)] as string) : (vocabulary[int(vocabulary.length)] as string))
  const start = Date.UTC(2026, 0, 1)
  return Array.from({ length: RECORDS }, (_, i) => {
    const kindRoll = rnd()
    const kind = kindRoll < 0.2 ? 'flow' : kindRoll < 0.5 ? 'flow-version' : 'execution'
    const tags = [...new Set(Array.from({ length: 1 + int(4) }, () => `tag-${Math.floor(rnd() ** 2 * 200)}`))]
    const createdAt = start + int(365 * 86_400_000)
    return {
      key: `${kind}:${i.toString(36).padStart(5, '0')}`,
      kind,
      owner: `did:key:z6Mk${int(1000)}`,
      subnet: `subnet-${int(10)}`,
      name: Array.from({ length: 2 + int(3) }, word).join(' '),
      description: Array.from({ length: 8 + int(8) }, word).join(' '),
      tags,
      category: `category-${int(12)}`,
      status: STATUSES[int(STATUSES.length)] as string,
      contentHash: `bafy${i.toString(16).padStart(12, '0')}`,
      archived: rnd() < 0.05,
      createdAt,
      updatedAt: createdAt + int(30 * 86_400_000),
      attributes: { steps: 1 + int(20), version: 1 + int(5) }
    }
  })
}

/** Measures pages of `query`, cycling through `variants` of it (different tags, say). */
function pageBench(index: SqliteQindex, name: string, variants: readonly IndexQuery[], extra: Record<string, number | string> = {}): Promise<Measurement> {
  let i = 0
  return measure(
    name,
    async () => {
      const page = await index.query(variants[i++ % variants.length] as IndexQuery)
      if (page.records.length === 0) throw new Error(`${name}: empty page`)
    },
    { warmup: 50, iterations: 500 }
  ).then((m) => ({ ...m, extra: { ...extra, ...m.extra } }))
}

async function cursorAtDepth(index: SqliteQindex, query: IndexQuery, pages: number): Promise<string> {
  let cursor: string | undefined
  for (let p = 0; p < pages; p++) {
    const page: { nextCursor?: string } = await index.query(cursor === undefined ? query : { ...query, cursor })
    if (page.nextCursor === undefined) throw new Error('result set ended before the requested depth')
    cursor = page.nextCursor
  }
  return cursor as string
}

export default async function bench(): Promise<Measurement[]> {
  const dir = await mkdtemp(join(tmpdir(), 'qflow-qindex-bench-'))
  const path = join(dir, 'qindex.sqlite')
  const records = dataset()
  const results: Measurement[] = []
  let index: SqliteQindex | undefined
  try {
    index = qindex({ path })()
    await index.start()
    const live = index
    // CPU time per record beside wall time: the machine is shared, and CPU time says what one record costs.
    let cpu = process.cpuUsage()
    const load = await measure('bulk insert 100k records (one putMany transaction)', () => live.putMany(records), {
      warmup: 0,
      iterations: 1,
      opsPerCall: RECORDS
    })
    const loadCpu = process.cpuUsage(cpu)
    results.push({
      ...load,
      extra: {
        records: RECORDS,
        cpuUsPerRecord: (loadCpu.user + loadCpu.system) / RECORDS,
        fileMB: (await stat(path)).size / 1e6,
        loadAvg1m: loadavg()[0] as number
      }
    })

    let n = 0
    results.push(
      await measure('put (upsert one record, own transaction, WAL)', () => {
        const r = records[n++ % RECORDS] as IndexRecord
        return live.put({ ...r, updatedAt: r.updatedAt + 1, status: 'running' })
      }, { warmup: 100, iterations: 2000 })
    )

    const tagStatus = (tags: string[]): IndexQuery[] => tags.map((tag) => ({ tagsAll: [tag], status: 'active', limit: 50 }))
    const tiers: [string, string[]][] = [
      ['common tags (tag-0..2, 7-16% of records)', ['tag-0', 'tag-1', 'tag-2']],
      ['mid tags (tag-50..52, ~1%)', ['tag-50', 'tag-51', 'tag-52']],
      ['rare tags (tag-197..199, ~0.6%)', ['tag-197', 'tag-198', 'tag-199']]
    ]
    for (const [label, tags] of tiers) {
      const plan = (await live.explain(tagStatus(tags)[0] as IndexQuery)).join(' | ')
      const m = await pageBench(live, `tag + status page, limit 50: ${label}`, tagStatus(tags), { plan })
      results.push({ ...m, extra: { ...m.extra, targetMs: TARGET_TAG_STATUS_MS, pass: m.medianUs < TARGET_TAG_STATUS_MS * 1000 ? 'yes' : 'NO' } })
    }
    results.push(
      await pageBench(live, 'owner + tag page, limit 50', [
        { owner: 'did:key:z6Mk7', tagsAll: ['tag-0'] },
        { owner: 'did:key:z6Mk8', tagsAll: ['tag-1'] }
      ])
    )
    results.push(await pageBench(live, 'tagsAny (3 tags) + kind page, limit 50', [{ tagsAny: ['tag-10', 'tag-20', 'tag-30'], kind: 'execution' }]))

    const textPlan = (await live.explain({ text: 'invoice' })).join(' | ')
    results.push(await pageBench(live, 'full text, one common word (~9% of records), limit 50', [{ text: 'invoice' }, { text: 'payroll' }], { plan: textPlan }))
    results.push(await pageBench(live, 'full text, two words + status, limit 50', [{ text: 'audit report', status: 'active' }, { text: 'sync backup', status: 'draft' }]))
    results.push(await pageBench(live, 'full text, rare vocabulary word, limit 50', [{ text: vocabularyWord(1234) }, { text: vocabularyWord(777) }, { text: `${vocabularyWord(1500).slice(0, 3)}*` }]))

    const deep = { limit: 50 } satisfies IndexQuery
    const deepCursor = await cursorAtDepth(live, deep, 1000)
    results.push(await pageBench(live, 'deep cursor page (page 1,001 of all records, updatedAt desc)', [{ ...deep, cursor: deepCursor }], { offsetRows: 50_000 }))
    const byName = { sort: { field: 'name', order: 'asc' }, limit: 50 } satisfies IndexQuery
    const nameCursor = await cursorAtDepth(live, byName, 1000)
    results.push(await pageBench(live, 'deep cursor page (page 1,001, name asc)', [{ ...byName, cursor: nameCursor }], { offsetRows: 50_000 }))
    const deepTag = { tagsAll: ['tag-0'], status: 'active', limit: 50 } satisfies IndexQuery
    const deepTagCursor = await cursorAtDepth(live, deepTag, 40)
    results.push(await pageBench(live, 'deep cursor page (page 41 of tag-0 + active)', [{ ...deepTag, cursor: deepTagCursor }], { offsetRows: 2000 }))

    let g = 0
    results.push(
      await measure('get(key)', async () => {
        g = (g + 7919) % RECORDS
        if ((await live.get((records[g] as IndexRecord).key)) === undefined) throw new Error('missing')
      }, { warmup: 200, iterations: 5000 })
    )

    cpu = process.cpuUsage()
    const rebuilt = await measure('rebuild 100k records from an async source into a fresh file + swap', async () => {
      async function* source(): AsyncIterable<IndexRecord> {
        yield* records
      }
      const result = await live.rebuild(source())
      if (result.indexed !== RECORDS) throw new Error(`rebuild indexed ${result.indexed}`)
    }, { warmup: 0, iterations: 1, opsPerCall: RECORDS })
    const rebuildCpu = process.cpuUsage(cpu)
    results.push({ ...rebuilt, extra: { cpuUsPerRecord: (rebuildCpu.user + rebuildCpu.system) / RECORDS, loadAvg1m: loadavg()[0] as number } })
    const afterRebuild = await pageBench(live, 'tag + status page after rebuild (tag-0..2)', tagStatus(['tag-0', 'tag-1', 'tag-2']))
    results.push(afterRebuild)

    await live.stop()
    const reopen = await measure('start() on the 100k file (header + quick_check + migrate)', async () => {
      const again = qindex({ path })()
      await again.start()
      await again.stop()
    }, { warmup: 1, iterations: 5 })
    results.push(reopen)
    return results
  } finally {
    await index?.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
