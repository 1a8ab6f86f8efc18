import { createPipeline, type OperationInput, type PipelineHaltedError, passThroughStage, qonsentStage } from '@qflow/pipeline'
import { afterEach, describe, expect, it } from 'vitest'
import { createEmbeddedQonsent, createQonsentHttpHandler, type EmbeddedQonsent, httpQonsent } from '../src/index.js'
import { ALICE, BOB, OWNER } from './fixtures/identities.js'
import { closeServers, startServer } from './fixtures/server.js'

const T0 = Date.parse('2026-03-02T12:00:00Z')
const open: EmbeddedQonsent[] = []

afterEach(async () => {
  await closeServers()
  await Promise.all(open.splice(0).map((q) => q.stop()))
})

function pipelineOver(qonsent: Parameters<ReturnType<typeof qonsentStage>>[0]['qonsent']) {
  return createPipeline({
    stages: [passThroughStage('qlock'), qonsentStage()({ qonsent }), passThroughStage('qindex'), passThroughStage('qerberos')]
  })
}

async function halted(run: Promise<unknown>): Promise<PipelineHaltedError> {
  try {
    await run
  } catch (err) {
    return err as PipelineHaltedError
  }
  throw new Error('expected the pipeline to halt')
}

async function seeded(now: () => number): Promise<EmbeddedQonsent> {
  const qonsent = await createEmbeddedQonsent({ persistence: 'memory' }, { now })
  open.push(qonsent)
  await qonsent.grant({ id: 'run', subject: ALICE, resource: 'qflow:exec:*', actions: ['execute'], effect: 'allow', grantedBy: OWNER, expiresAt: T0 + 60_000 })
  await qonsent.grant({
    id: 'dao-only',
    subject: BOB,
    resource: 'qflow:flow:*',
    actions: ['read'],
    effect: 'allow',
    grantedBy: OWNER,
    conditions: { subnet: 'dao-a', ipCidr: '10.0.0.0/8' }
  })
  return qonsent
}

const step: OperationInput = { kind: 'exec.step', actor: { did: ALICE }, resource: 'qflow:exec:e1', action: 'execute' }

describe('the pipeline’s Qonsent stage over the embedded Qonsent', () => {
  it('lets an allowed operation through, with the deciding grant in the trace', async () => {
    const qonsent = await seeded(() => T0)
    const result = await pipelineOver(qonsent).run(step)
    expect(result.trace[1]?.verdict).toEqual({ ok: true, details: { status: 'allowed', grantId: 'run', expiresAt: T0 + 60_000 } })
  })

  it('halts a refused operation with CONSENT_DENIED (not retryable)', async () => {
    const qonsent = await seeded(() => T0)
    const err = await halted(pipelineOver(qonsent).run({ ...step, actor: { did: BOB } }))
    expect(err).toMatchObject({ name: 'PipelineHaltedError', stage: 'qonsent', code: 'CONSENT_DENIED', retryable: false })
  })

  it('halts a lapsed consent with CONSENT_EXPIRED (retryable), and passes again once renewed', async () => {
    let now = T0
    const qonsent = await seeded(() => now)
    const pipeline = pipelineOver(qonsent)
    now = T0 + 60_000
    const err = await halted(pipeline.run(step))
    expect(err).toMatchObject({ stage: 'qonsent', code: 'CONSENT_EXPIRED', retryable: true, details: { status: 'expired', grantId: 'run', expiresAt: T0 + 60_000 } })
    await qonsent.grant({ id: 'run-2', subject: ALICE, resource: 'qflow:exec:*', actions: ['execute'], effect: 'allow', grantedBy: OWNER })
    expect((await pipeline.run(step)).trace[1]?.verdict.ok).toBe(true)
  })

  it('tests conditions against the operation’s subnet and attributes', async () => {
    const qonsent = await seeded(() => T0)
    const pipeline = pipelineOver(qonsent)
    const read: OperationInput = { kind: 'flow.read', actor: { did: BOB }, resource: 'qflow:flow:f1', action: 'read', subnet: 'dao-a', attributes: { clientIp: '10.9.8.7' } }
    expect((await pipeline.run(read)).trace[1]?.verdict.ok).toBe(true)
    expect((await halted(pipeline.run({ ...read, subnet: 'dao-b' }))).code).toBe('CONSENT_DENIED')
    expect((await halted(pipeline.run({ ...read, attributes: { clientIp: '192.168.1.1' } }))).code).toBe('CONSENT_DENIED')
  })

  it('records the pipeline’s checks for audit', async () => {
    const qonsent = await seeded(() => T0)
    await pipelineOver(qonsent).run(step)
    expect(qonsent.auditLog(1)[0]).toMatchObject({ type: 'CONSENT_CHECK', ref: 'qflow:exec:e1', actor: ALICE, verdict: 'ALLOW', action: 'execute' })
  })
})

describe('the pipeline’s Qonsent stage over HTTP', () => {
  it('gives the same verdicts through the HTTP client and handler', async () => {
    let now = T0
    const qonsent = await seeded(() => now)
    const server = await startServer(createQonsentHttpHandler(qonsent))
    const pipeline = pipelineOver(httpQonsent({ url: server.url })({ now: () => now }))
    expect((await pipeline.run(step)).trace[1]?.verdict).toEqual({ ok: true, details: { status: 'allowed', grantId: 'run', expiresAt: T0 + 60_000 } })
    expect((await halted(pipeline.run({ ...step, actor: { did: BOB } }))).code).toBe('CONSENT_DENIED')
    now = T0 + 60_000
    expect(await halted(pipeline.run(step))).toMatchObject({ code: 'CONSENT_EXPIRED', retryable: true })
  })

  it('halts with the retryable QONSENT_UNAVAILABLE when the service is down', async () => {
    const server = await startServer(() => undefined)
    const url = server.url
    await server.close()
    const err = await halted(pipelineOver(httpQonsent({ url })()).run(step))
    expect(err).toMatchObject({ stage: 'qonsent', code: 'QONSENT_UNAVAILABLE', retryable: true })
  })
})
