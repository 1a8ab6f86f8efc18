import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { useTempDir } from '../fixtures/cli.js'
import { adminToken, api, type RunningDaemon, startDaemon } from './daemon-fixture.js'
import { callThenDelayFlow, type HeldServer, heldServer } from './fixtures.js'

const LOCAL = { QFLOW_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8' }

interface ExecutionJson {
  executionId: string
  status: string
  output?: unknown
  steps: Record<string, { status: string; attempt: number }>
}

/** Starts an execution of `flowId` over HTTP; resolves with the answer's status and execution id. */
async function startOne(url: string, dataDir: string, flowId: string, tag: string, n: number): Promise<{ status: number; executionId?: string; code?: string }> {
  try {
    const answer = await api(url, 'POST', `/api/v1/flows/${flowId}/start`, await adminToken(dataDir), { input: { tag, n } })
    const data = answer.body.data as { executionId?: string } | undefined
    return {
      status: answer.status,
      ...(data?.executionId === undefined ? {} : { executionId: data.executionId }),
      ...(answer.body.error === undefined ? {} : { code: answer.body.error.code })
    }
  } catch {
    // The connection was refused or cut: the server is closed. Nothing was accepted.
    return { status: 0 }
  }
}

/** Waits (by asking the API) until the execution has ended; resolves with its state. */
async function settled(url: string, dataDir: string, executionId: string): Promise<ExecutionJson> {
  for (;;) {
    const answer = await api(url, 'GET', `/api/v1/executions/${executionId}`, await adminToken(dataDir))
    const state = answer.body.data as ExecutionJson
    if (answer.status === 200 && ['completed', 'failed', 'aborted'].includes(state.status)) return state
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe('graceful shutdown', () => {
  const tmp = useTempDir()
  const running: RunningDaemon[] = []
  let held: HeldServer | undefined

  afterEach(async () => {
    for (const daemon of running.splice(0)) if (daemon.process.child.exitCode === null) await daemon.stop('SIGKILL')
    await held?.close()
    held = undefined
  })

  async function start(dataDir: string, args: readonly string[] = []): Promise<RunningDaemon> {
    const daemon = await startDaemon(['--data-dir', dataDir, ...args], LOCAL)
    running.push(daemon)
    return daemon
  }

  it('a SIGTERM under load: in-flight steps commit, new requests get 503, and after a restart every accepted execution finishes with the right output', async () => {
    held = await heldServer()
    const server = held
    const dataDir = join(tmp(), 'node')
    const first = await start(dataDir, ['--shutdown-timeout', '60s'])
    const created = await api(first.url, 'POST', '/api/v1/flows', await adminToken(dataDir), callThenDelayFlow(server.url, 1_500))
    expect(created.status).toBe(201)

    /** Every accepted (202) execution, with its input. */
    const accepted = new Map<string, { tag: string; n: number }>()
    const accept = (result: { status: number; executionId?: string }, tag: string, n: number): void => {
      if (result.status === 202) accepted.set(result.executionId as string, { tag, n })
    }

    // 1. Executions whose call answered: they sit in their durable delay when the signal comes.
    server.release()
    const delaying = await Promise.all(Array.from({ length: 30 }, (_, i) => startOne(first.url, dataDir, 'call-then-delay', `delay-${i}`, i)))
    for (const [i, r] of delaying.entries()) {
      expect(r.status).toBe(202)
      accept(r, `delay-${i}`, i)
    }
    await server.received(30)

    // 2. Executions whose call is in flight (held by the server) when the signal comes.
    server.hold()
    const calling = await Promise.all(Array.from({ length: 10 }, (_, i) => startOne(first.url, dataDir, 'call-then-delay', `call-${i}`, 100 + i)))
    for (const [i, r] of calling.entries()) {
      expect(r.status).toBe(202)
      accept(r, `call-${i}`, 100 + i)
    }
    await server.received(40)

    // 3. A stream of starts from 4 clients that the signal cuts into: the SIGTERM goes out once 8
    //    of them were accepted, while the others are on their way. Each client stops at its first
    //    refusal (503, or no connection once the server has closed).
    let racedAccepted = 0
    const raced: { status: number }[] = []
    const clients = Array.from({ length: 4 }, async (_, c) => {
      for (let i = 0; ; i++) {
        const tag = `race-${c}-${i}`
        const n = 1000 * (c + 1) + i
        const r = await startOne(first.url, dataDir, 'call-then-delay', tag, n)
        raced.push(r)
        accept(r, tag, n)
        if (r.status !== 202) return
        if (++racedAccepted === 8) first.process.child.kill('SIGTERM')
      }
    })
    const draining = await first.waitForLog((line) => line.msg === 'waiting for in-flight steps to reach a commit point')

    // 4. While the node waits for the held calls, a new request is refused with 503.
    const refused = await api(first.url, 'GET', '/api/v1/flows', await adminToken(dataDir))
    expect(refused.status).toBe(503)
    expect(refused.body.error).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'shutting-down' } })
    expect(refused.headers.get('retry-after')).toBe('5')
    const refusedStart = await startOne(first.url, dataDir, 'call-then-delay', 'late', 999)
    expect(refusedStart).toEqual({ status: 503, code: 'UNAVAILABLE' })
    await Promise.all(clients)
    for (const r of raced) expect([0, 202, 503]).toContain(r.status)
    expect(racedAccepted).toBeGreaterThanOrEqual(8)
    const callingIds = calling.map((r) => r.executionId as string)
    const waitedFor = (draining.steps as { executionId: string; stepId: string }[]).filter((s) => callingIds.includes(s.executionId))
    expect(waitedFor.map((s) => s.stepId)).toEqual(callingIds.map(() => 'call'))

    // 5. Let the held calls answer: they reach their commit point and the node exits 0.
    const requestsBeforeRelease = server.requests.length
    server.release()
    expect(await first.process.exited).toEqual({ code: 0, signal: null })
    const stopped = first.logs().at(-1) as unknown as { msg: string; stepsPending: number; stepsSettled: number }
    expect(stopped.msg).toBe('stopped')
    expect(stopped.stepsPending).toBe(0)
    expect(stopped.stepsSettled).toBeGreaterThanOrEqual(10)
    const committedKeys = server.requests.slice(0, requestsBeforeRelease).map((r) => r.idempotencyKey)

    // 6. Restart: every accepted execution finishes, with the output its input calls for.
    const second = await start(dataDir)
    for (const [executionId, { tag, n }] of accepted) {
      const state = await settled(second.url, dataDir, executionId)
      expect(state.status, `${executionId} (${tag})`).toBe('completed')
      expect(state.output).toEqual({ tag, doubled: n * 2, served: `/${tag}` })
    }
    // The calls that were in flight at the signal committed before the exit: none ran again.
    const keysAfterRestart = server.requests.slice(requestsBeforeRelease).map((r) => r.idempotencyKey)
    for (const executionId of callingIds) {
      expect(committedKeys.filter((k) => k === `${executionId}:call:1`)).toHaveLength(1)
      expect(keysAfterRestart).not.toContain(`${executionId}:call:1`)
    }
    expect(accepted.size).toBeGreaterThanOrEqual(48)
    expect(await second.stop()).toEqual({ code: 0, signal: null })
  })

  it('exits 0 at --shutdown-timeout with a step that never answers; the next start runs it again with the same idempotency key', async () => {
    held = await heldServer()
    const server = held
    const dataDir = join(tmp(), 'node')
    const first = await start(dataDir, ['--shutdown-timeout', '300ms'])
    expect((await api(first.url, 'POST', '/api/v1/flows', await adminToken(dataDir), callThenDelayFlow(server.url, 1))).status).toBe(201)
    const started = await startOne(first.url, dataDir, 'call-then-delay', 'stuck', 7)
    expect(started.status).toBe(202)
    await server.received(1)

    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null })
    const warned = first.logs().find((l) => l.msg.startsWith('steps still running at the shutdown bound'))
    expect(warned).toMatchObject({ level: 'warn', pending: [{ executionId: started.executionId, stepId: 'call', attempt: 1 }] })

    const second = await start(dataDir)
    await server.received(2)
    expect(server.requests.map((r) => r.idempotencyKey)).toEqual([`${started.executionId}:call:1`, `${started.executionId}:call:1`])
    server.release()
    const state = await settled(second.url, dataDir, started.executionId as string)
    expect(state).toMatchObject({ status: 'completed', output: { tag: 'stuck', doubled: 14, served: '/stuck' } })
    expect(await second.stop()).toEqual({ code: 0, signal: null })
  })
})
