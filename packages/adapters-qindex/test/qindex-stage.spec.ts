import { join } from 'node:path'
import { createPipeline, type OperationInput, passThroughStage, PipelineHaltedError, qindexStage } from '@qflow/pipeline'
import { afterEach, describe, expect, it } from 'vitest'
import { qindex, type SqliteQindex } from '../src/index.js'
import { record, tempDir } from './fixtures/records.js'

const cleanups: (() => void | Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function pipelineWithIndex(): Promise<{ index: SqliteQindex; path: string; run: (input: OperationInput) => Promise<unknown> }> {
  const { dir, cleanup } = tempDir()
  cleanups.push(cleanup)
  const path = join(dir, 'qindex.sqlite')
  const index = qindex({ path })()
  await index.start()
  cleanups.push(() => index.stop())
  const pipeline = createPipeline({
    stages: [passThroughStage('qlock'), passThroughStage('qonsent'), qindexStage()({ qindex: index }), passThroughStage('qerberos')]
  })
  return { index, path, run: (input) => pipeline.run(input) }
}

const operation = (index?: OperationInput['index']): OperationInput => ({
  kind: 'flow.create',
  actor: { did: 'did:key:z6MkAlice' },
  resource: 'qflow:flow:invoice',
  action: 'write',
  ...(index === undefined ? {} : { index })
})

describe('the pipeline qindex stage over the SQLite index', () => {
  it('stores the record an operation carries', async () => {
    const { index, path, run } = await pipelineWithIndex()
    const result = (await run(operation(record('invoice', { name: 'Invoice approval', tags: ['finance'] })))) as {
      trace: { stage: string; verdict: { ok: boolean; details?: unknown } }[]
    }
    expect(result.trace.find((e) => e.stage === 'qindex')?.verdict).toEqual({ ok: true, details: { indexed: 'invoice', kind: 'flow' } })
    expect((await index.query({ tagsAll: ['finance'], text: 'invoice' })).records.map((r) => r.key)).toEqual(['invoice'])
    // Persisted: a second index on the same file sees it.
    await index.stop()
    const reopened = qindex({ path })()
    await reopened.start()
    cleanups.push(() => reopened.stop())
    expect(await reopened.get('invoice')).toMatchObject({ name: 'Invoice approval' })
  })

  it('passes operations without a record', async () => {
    const { index, run } = await pipelineWithIndex()
    await run(operation())
    expect((await index.query({})).records).toEqual([])
  })

  it('halts on a malformed record with the INVALID_INDEX_RECORD code, storing nothing', async () => {
    const { index, run } = await pipelineWithIndex()
    const err = await run(operation(record('bad', { owner: undefined }))).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(err).toBeInstanceOf(PipelineHaltedError)
    expect(err).toMatchObject({ stage: 'qindex', code: 'INVALID_INDEX_RECORD', retryable: false })
    expect(await index.get('bad')).toBeUndefined()
  })

  it('halts with a retryable QINDEX_NOT_STARTED when the index is stopped', async () => {
    const { index, run } = await pipelineWithIndex()
    await index.stop()
    await expect(run(operation(record('late')))).rejects.toMatchObject({ stage: 'qindex', code: 'QINDEX_NOT_STARTED', retryable: true })
  })
})
