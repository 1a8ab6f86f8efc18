import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { useTempDir } from '../fixtures/cli.js'
import { doublingFlow } from '../fixtures/flows.js'
import { adminToken, api, type LogLine, type RunningDaemon, startDaemon } from './daemon-fixture.js'

const FLOW = doublingFlow('kept-few')

/** The value of one metric line (`name value`) of a `/metrics` text, or undefined. */
function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

const pruned = (lines: readonly LogLine[]): number =>
  lines.filter((l) => l.msg === 'pruned finished executions').reduce((sum, l) => sum + (l.removedExecutions as number), 0)

describe('execution retention', () => {
  const tmp = useTempDir()
  const running: RunningDaemon[] = []

  afterEach(async () => {
    for (const daemon of running.splice(0)) if (daemon.process.child.exitCode === null) await daemon.stop('SIGKILL')
  })

  async function start(dataDir: string, args: readonly string[]): Promise<RunningDaemon> {
    const daemon = await startDaemon(['--data-dir', dataDir, ...args])
    running.push(daemon)
    return daemon
  }

  it('removes the finished executions beyond --execution-max-count once started, logs it and counts it in /metrics', async () => {
    const dataDir = join(tmp(), 'node')
    const first = await start(dataDir, ['--execution-max-count', '0'])
    const token = await adminToken(dataDir)
    expect((await api(first.url, 'POST', '/api/v1/flows', token, FLOW)).status).toBe(201)
    const ids: string[] = []
    for (let n = 0; n < 5; n++) {
      const answer = await api(first.url, 'POST', '/api/v1/flows/kept-few/start', await adminToken(dataDir), { input: { n }, wait: true })
      expect(answer.body.data).toMatchObject({ status: 'completed', output: 2 * n })
      ids.push((answer.body.data as { executionId: string }).executionId)
    }
    expect(pruned(first.logs())).toBe(0)
    expect(await first.stop()).toEqual({ code: 0, signal: null })

    const second = await start(dataDir, ['--execution-max-count', '2', '--prune-interval', '1h'])
    await second.waitForLog((line) => line.msg === 'pruned finished executions')
    expect(pruned(second.logs())).toBe(3)
    const list = await api(second.url, 'GET', '/api/v1/executions', await adminToken(dataDir))
    expect((list.body.data as { items: { executionId: string }[] }).items.map((i) => i.executionId).sort()).toEqual(ids.slice(3).sort())
    for (const id of ids.slice(0, 3)) {
      const gone = await api(second.url, 'GET', `/api/v1/executions/${id}`, await adminToken(dataDir))
      expect(gone.status).toBe(404)
    }
    expect((await api(second.url, 'GET', `/api/v1/executions/${ids[4]}`, await adminToken(dataDir))).body.data).toMatchObject({ status: 'completed', output: 8 })
    const metrics = await (await fetch(`${second.url}/metrics`)).text()
    expect(metric(metrics, 'qflow_executions_pruned_total')).toBe(3)
    expect(metric(metrics, 'qflow_prune_failures_total')).toBe(0)
    expect(metric(metrics, 'qflow_prune_passes_total')).toBeGreaterThanOrEqual(1)
  })
})
