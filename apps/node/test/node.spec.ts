import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ExitCode } from '../src/constants.js'
import { qflow, useTempDir } from './fixtures/cli.js'
import { type LiveQflow, type RecordingServer, recordingServer, spawnQflow } from './fixtures/node.js'

const OWNER = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'
const LOCAL = { QFLOW_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8' }

/** A flow with every step type that runs locally: transform, condition, parallel, http.request, delay, log. */
function everyStepFlow(url: string, delayMs = 30, version = '1.0.0'): string {
  return JSON.stringify({
    id: 'every-step',
    name: 'every step',
    version,
    owner: OWNER,
    steps: [
      { id: 'total', type: 'task', action: 'data.transform', params: { expression: 'input.amount * 2' } },
      { id: 'big', type: 'condition', expression: '{{ steps.total.output > 100 }}', onTrue: 'vip', onFalse: 'plain' },
      { id: 'vip', type: 'task', action: 'data.transform', params: { expression: '"vip"' }, onSuccess: 'fan' },
      { id: 'plain', type: 'task', action: 'data.transform', params: { expression: '"plain"' } },
      { id: 'fan', type: 'parallel', branches: [['call'], ['local']], join: 'all' },
      { id: 'call', type: 'task', action: 'http.request', params: { url: `${url}/orders`, method: 'POST', body: { total: '{{ steps.total.output }}' } } },
      { id: 'local', type: 'task', action: 'data.transform', params: { expression: 'steps.total.output + 1' } },
      { id: 'pause', type: 'task', action: 'delay', params: { ms: delayMs } },
      { id: 'note', type: 'task', action: 'log', params: { message: '{{ "tier " & (steps.vip.output ? steps.vip.output : steps.plain.output) }}' } },
      {
        id: 'out',
        type: 'task',
        action: 'data.transform',
        params: { expression: '{ "tier": steps.vip.output ? steps.vip.output : steps.plain.output, "served": steps.call.output.body.path, "local": steps.local.output }' }
      }
    ]
  })
}

interface LogEntryJson {
  seq: number
  kind: string
  stepId?: string
  attempt?: number
  cid: string
  payload: unknown
}

describe('qflow run, exec, flow history and resume on the embedded node', () => {
  const temp = useTempDir()
  let server: RecordingServer | undefined
  const children: LiveQflow[] = []

  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL')
      await c.exited
    }
    await server?.close()
    server = undefined
  })

  it('runs every local step type, then lists, shows, logs and verifies the execution', async () => {
    server = await recordingServer()
    const dir = temp()
    const data = join(dir, 'data')
    await writeFile(join(dir, 'flow.json'), everyStepFlow(server.url))

    const run = await qflow(['--json', 'run', join(dir, 'flow.json'), '--input', '{"amount":80}', '--data-dir', data, '--no-progress'], { env: LOCAL })
    expect(run.stderr).toBe('')
    expect(run.code).toBe(ExitCode.ok)
    const result = JSON.parse(run.stdout) as { executionId: string; status: string; output: unknown }
    expect(result.status).toBe('completed')
    expect(result.output).toEqual({ tier: 'vip', served: '/orders', local: 161 })
    const id = result.executionId
    expect(server.requests).toHaveLength(1)
    expect(server.requests[0]?.idempotencyKey).toBe(`${id}:call:1`)
    expect(JSON.parse(server.requests[0]?.body ?? '')).toEqual({ total: 160 })

    // Secrets are private files; the data directory is the owner's.
    expect((await stat(join(data, 'node.secret'))).mode & 0o777).toBe(0o600)
    expect((await stat(join(data, 'identity.keystore'))).mode & 0o777).toBe(0o600)
    expect((await stat(data)).mode & 0o777).toBe(0o700)

    const list = await qflow(['--json', 'exec', 'list', '--data-dir', data, '--status', 'completed'])
    expect(list.code).toBe(ExitCode.ok)
    expect(JSON.parse(list.stdout)).toMatchObject([{ executionId: id, status: 'completed', flowId: 'every-step', flowVersion: '1.0.0' }])
    const none = await qflow(['--json', 'exec', 'list', '--data-dir', data, '--status', 'failed'])
    expect(JSON.parse(none.stdout)).toEqual([])

    const status = await qflow(['exec', 'status', id, '--data-dir', data])
    expect(status.code).toBe(ExitCode.ok)
    expect(status.stdout).toContain(`execution  ${id}`)
    expect(status.stdout).toContain('status     completed')
    expect(status.stdout).toMatch(/^call\s+succeeded\s+1\s+\S+$/m)
    const statusJson = JSON.parse((await qflow(['--json', 'exec', 'status', id, '--data-dir', data])).stdout) as { steps: { stepId: string; status: string }[] }
    const ran = Object.fromEntries(statusJson.steps.map((s) => [s.stepId, s.status]))
    expect(ran).toMatchObject({ total: 'succeeded', big: 'succeeded', vip: 'succeeded', fan: 'succeeded', call: 'succeeded', local: 'succeeded', pause: 'succeeded', note: 'succeeded', out: 'succeeded' })
    expect(ran.plain).not.toBe('succeeded')

    const logs = await qflow(['--json', 'exec', 'logs', id, '--data-dir', data])
    const entries = (JSON.parse(logs.stdout) as { entries: LogEntryJson[] }).entries
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i))
    expect(entries[0]?.kind).toBe('started')
    expect(entries.at(-1)).toMatchObject({ kind: 'completed', payload: { output: result.output } })
    expect(entries.filter((e) => e.kind === 'log')).toMatchObject([{ stepId: 'note', payload: { message: 'tier vip' } }])
    expect(entries.filter((e) => e.kind === 'step-dispatched').map((e) => e.stepId)).toEqual(expect.arrayContaining(['fan', 'call', 'pause']))
    const text = await qflow(['exec', 'logs', id, '--data-dir', data])
    expect(text.stdout).toMatch(/^SEQ\s+TIME\s+KIND\s+STEP\s+ATTEMPT\s+PAYLOAD$/m)
    expect(text.stdout).toMatch(/^\s*0\s+\S+\s+started\s+-\s+-\s+\{/m)

    const verify = await qflow(['exec', 'verify', id, '--data-dir', data])
    expect(verify.code).toBe(ExitCode.ok)
    expect(verify.stdout).toBe(`ok: ${id}: ${entries.length} entries verified\n`)

    const unknown = await qflow(['--json', 'exec', 'status', 'exec-nope', '--data-dir', data])
    expect(unknown.code).toBe(ExitCode.invalid)
    expect((JSON.parse(unknown.stderr) as { error: { name: string } }).error.name).toBe('UnknownExecutionError')
  })

  it('refuses loopback targets unless the node allows them, and reports the failed execution', async () => {
    server = await recordingServer()
    const dir = temp()
    await writeFile(join(dir, 'flow.json'), everyStepFlow(server.url))
    const run = await qflow(['--json', 'run', join(dir, 'flow.json'), '--input', '{"amount":1}', '--data-dir', join(dir, 'data')])
    expect(run.code).toBe(ExitCode.invalid)
    const result = JSON.parse(run.stdout) as { status: string; error: { name: string; stepId: string } }
    expect(result.status).toBe('failed')
    expect(result.error).toMatchObject({ name: 'ParallelJoinError', stepId: 'fan' })
    expect(server.requests).toHaveLength(0)
    expect(run.stderr).toContain('failed at step fan: ParallelJoinError')
    const status = JSON.parse((await qflow(['--json', 'exec', 'status', (JSON.parse(run.stdout) as { executionId: string }).executionId, '--data-dir', join(dir, 'data')])).stdout) as {
      status: string
      steps: { stepId: string; status: string; error?: { name: string } }[]
    }
    expect(status.status).toBe('failed')
    expect(status.steps.find((s) => s.stepId === 'call')).toMatchObject({ status: 'failed', error: { name: 'PrivateAddressError' } })
  })

  it('keeps one revision per content, shows the history and rolls back', async () => {
    const dir = temp()
    const data = join(dir, 'data')
    const flow = (version: string, message: string) =>
      JSON.stringify({ id: 'greeter', name: 'greeter', version, owner: OWNER, steps: [{ id: 'say', type: 'task', action: 'data.transform', params: { expression: `"${message} " & input.name` } }] })
    await writeFile(join(dir, 'v1.json'), flow('1.0.0', 'Hello'))
    await writeFile(join(dir, 'v2.json'), flow('1.1.0', 'Howdy'))
    const input = ['--input', '{"name":"Ada"}', '--data-dir', data]
    expect(JSON.parse((await qflow(['--json', 'run', join(dir, 'v1.json'), ...input])).stdout)).toMatchObject({ output: 'Hello Ada', flowVersion: '1.0.0' })
    expect((await qflow(['run', join(dir, 'v1.json'), ...input])).stdout).toBe('"Hello Ada"\n')
    expect(JSON.parse((await qflow(['--json', 'run', join(dir, 'v2.json'), ...input])).stdout)).toMatchObject({ output: 'Howdy Ada' })

    const history = JSON.parse((await qflow(['--json', 'flow', 'history', 'greeter', '--data-dir', data])).stdout) as { revision: number; action: string; flowVersion: string }[]
    expect(history.map((v) => [v.revision, v.action, v.flowVersion])).toEqual([
      [2, 'register', '1.1.0'],
      [1, 'register', '1.0.0']
    ])
    const rollback = await qflow(['--json', 'flow', 'rollback', 'greeter', '1', '--data-dir', data])
    expect(rollback.code).toBe(ExitCode.ok)
    expect(JSON.parse(rollback.stdout)).toMatchObject({ revision: 3, action: 'rollback', rolledBackTo: 1, flowVersion: '1.0.0' })
    const table = await qflow(['flow', 'history', 'greeter', '--data-dir', data])
    expect(table.stdout).toMatch(/^\s*3\s+rollback to 1\s+1\.0\.0\s+/m)

    expect((await qflow(['flow', 'rollback', 'greeter', 'one', '--data-dir', data])).code).toBe(ExitCode.usage)
    const missing = await qflow(['--json', 'flow', 'rollback', 'nobody', '1', '--data-dir', data])
    expect(missing.code).toBe(ExitCode.invalid)
    expect((JSON.parse(missing.stderr) as { error: { name: string } }).error.name).toBe('FlowNotFoundError')
  })

  it('resumes a run killed mid-flight, and refuses a data directory in use', async () => {
    server = await recordingServer()
    const dir = temp()
    const data = join(dir, 'data')
    await writeFile(join(dir, 'flow.json'), everyStepFlow(server.url, 3000))
    const run = spawnQflow(['run', join(dir, 'flow.json'), '--input', '{"amount":10}', '--data-dir', data, '--progress'], LOCAL)
    children.push(run)
    // Wait until the durable delay is dispatched: the progress line names it.
    for (let i = 0; i < 800 && !run.stderr().includes('at pause'); i++) await new Promise((r) => setTimeout(r, 25))
    expect(run.stderr()).toContain('at pause')

    const busy = await qflow(['--json', 'exec', 'list', '--data-dir', data])
    expect(busy.code).toBe(ExitCode.invalid)
    expect((JSON.parse(busy.stderr) as { error: { name: string; pid: number } }).error).toMatchObject({ name: 'DataDirLockedError', pid: run.child.pid })

    run.child.kill('SIGKILL')
    expect((await run.exited).signal).toBe('SIGKILL')
    const running = JSON.parse((await qflow(['--json', 'exec', 'list', '--data-dir', data, '--status', 'running'])).stdout) as { executionId: string }[]
    expect(running).toHaveLength(1)
    const id = running[0]?.executionId as string

    const resumed = await qflow(['--json', 'resume', '--data-dir', data], { env: LOCAL })
    expect(resumed.code).toBe(ExitCode.ok)
    expect(JSON.parse(resumed.stdout)).toEqual([{ executionId: id, status: 'completed', output: { tier: 'plain', served: '/orders', local: 21 } }])
    // The side effect ran once: the delay was resumed from its durable due time, not restarted.
    expect(server.requests.map((r) => r.idempotencyKey)).toEqual([`${id}:call:1`])
    const entries = (JSON.parse((await qflow(['--json', 'exec', 'logs', id, '--data-dir', data])).stdout) as { entries: LogEntryJson[] }).entries
    expect(entries.filter((e) => e.kind === 'step-dispatched' && e.stepId === 'pause')).toHaveLength(1)
    expect((await qflow(['resume', '--data-dir', data])).stdout).toBe('nothing to resume\n')
  })

  it('reports an execution that waits for an event as waiting, from run and from resume', async () => {
    const dir = temp()
    const data = join(dir, 'data')
    await writeFile(
      join(dir, 'flow.json'),
      JSON.stringify({
        id: 'approval',
        name: 'approval',
        version: '1.0.0',
        owner: OWNER,
        steps: [
          { id: 'ask', type: 'task', action: 'data.transform', params: { expression: 'input.id' } },
          { id: 'decided', type: 'event-trigger', event: 'approval.decided', filter: { id: '{{ input.id }}' } },
          { id: 'done', type: 'task', action: 'data.transform', params: { expression: 'steps.decided.output.payload.ok' } }
        ]
      })
    )
    const run = await qflow(['--json', 'run', join(dir, 'flow.json'), '--input', '{"id":"r-1"}', '--data-dir', data])
    expect(run.code).toBe(ExitCode.ok)
    const waiting = JSON.parse(run.stdout) as { executionId: string; status: string }
    expect(waiting.status).toBe('waiting')
    const resumed = await qflow(['resume', '--data-dir', data])
    expect(resumed.code).toBe(ExitCode.ok)
    expect(resumed.stdout).toBe(`${waiting.executionId}: waiting for an event\n`)
    const status = JSON.parse((await qflow(['--json', 'exec', 'status', waiting.executionId, '--data-dir', data])).stdout) as { status: string; steps: { stepId: string; status: string }[] }
    expect(status.status).toBe('running')
    expect(status.steps.find((s) => s.stepId === 'decided')?.status).toBe('waiting')
  })

  it('rejects bad input with 1 and bad usage with 2', async () => {
    const dir = temp()
    const data = join(dir, 'data')
    await writeFile(join(dir, 'flow.json'), JSON.stringify({ id: 'x', name: 'x', version: '1.0.0', owner: OWNER, steps: [{ id: 'a', type: 'task', action: 'log', params: { message: 'x' } }] }))
    const badInput = await qflow(['--json', 'run', join(dir, 'flow.json'), '--input', '{nope', '--data-dir', data])
    expect(badInput.code).toBe(ExitCode.invalid)
    expect((JSON.parse(badInput.stderr) as { error: { name: string; path: string } }).error).toMatchObject({ name: 'InputError', path: '--input' })
    const missingFile = await qflow(['--json', 'run', join(dir, 'flow.json'), '--input', '@nowhere.json', '--data-dir', data])
    expect((JSON.parse(missingFile.stderr) as { error: { name: string } }).error.name).toBe('InputError')
    expect((await qflow(['run', join(dir, 'flow.json'), '--durability', 'sometimes', '--data-dir', data])).code).toBe(ExitCode.usage)
    expect((await qflow(['exec', 'list', '--status', 'sleeping', '--data-dir', data])).code).toBe(ExitCode.usage)
    expect((await qflow(['exec', 'status', '--data-dir', data])).code).toBe(ExitCode.usage)
    const invalid = await qflow(['run', '-', '--data-dir', data], { input: '{"id":"x"}' })
    expect(invalid.code).toBe(ExitCode.invalid)
    expect(invalid.stderr).toContain('is not a valid flow')
  })

  it('names the broken entry when a stored block is corrupted', async () => {
    const dir = temp()
    const data = join(dir, 'data')
    await writeFile(join(dir, 'flow.json'), JSON.stringify({ id: 'small', name: 'small', version: '1.0.0', owner: OWNER, steps: [
      { id: 'a', type: 'task', action: 'data.transform', params: { expression: '1' } },
      { id: 'b', type: 'task', action: 'log', params: { message: 'at b' } },
      { id: 'c', type: 'task', action: 'data.transform', params: { expression: 'steps.a.output + 1' } }
    ] }))
    const run = JSON.parse((await qflow(['--json', 'run', join(dir, 'flow.json'), '--data-dir', data])).stdout) as { executionId: string }
    const id = run.executionId
    const entries = (JSON.parse((await qflow(['--json', 'exec', 'logs', id, '--data-dir', data])).stdout) as { entries: LogEntryJson[] }).entries
    // b's log entry (after the start) carries a's completion; the last entry (completing c and the
    // execution) carries b's. The last one is broken below.
    expect(entries.map((e) => e.kind)).toEqual(['started', 'log', 'completed'])
    const target = entries[2] as LogEntryJson
    // A run of pure steps is one entry, carrying its start: the listing reads its flow from it.
    await writeFile(join(dir, 'pure.json'), JSON.stringify({ id: 'pure', name: 'pure', version: '2.0.0', owner: OWNER, steps: [
      { id: 'a', type: 'task', action: 'data.transform', params: { expression: '1' } }
    ] }))
    const pure = JSON.parse((await qflow(['--json', 'run', join(dir, 'pure.json'), '--data-dir', data])).stdout) as { executionId: string }
    const listed = JSON.parse((await qflow(['--json', 'exec', 'list', '--data-dir', data])).stdout) as { executionId: string; flowId: string; flowVersion: string; entries: number }[]
    expect(listed.find((row) => row.executionId === pure.executionId)).toMatchObject({ flowId: 'pure', flowVersion: '2.0.0', entries: 1 })

    // The entry's block bytes, read through the store, then found wherever the store keeps them.
    const { createQflowNode } = await import('../src/node/node.js')
    const node = createQflowNode({ dataDir: data, recover: false })
    await node.start()
    const chunks: Uint8Array[] = []
    try {
      const { store } = node.parts
      for await (const entry of store.log.entries(id)) {
        if (entry.seq !== target.seq) continue
        expect(entry.cid.toString()).toBe(target.cid)
        for await (const chunk of store.helia.blockstore.get(entry.cid)) chunks.push(chunk)
      }
    } finally {
      await node.stop()
    }
    const needle = Buffer.concat(chunks)
    expect(needle.length).toBeGreaterThan(0)
    let flipped = 0
    for (const file of await walk(data)) {
      const content = await readFile(file)
      let at = content.indexOf(needle)
      while (at >= 0) {
        const middle = at + Math.floor(needle.length / 2)
        content[middle] = (content[middle] ?? 0) ^ 0xff
        flipped++
        at = content.indexOf(needle, at + needle.length)
      }
      if (flipped > 0) await writeFile(file, content)
    }
    expect(flipped).toBeGreaterThan(0)

    const verify = await qflow(['--json', 'exec', 'verify', id, '--data-dir', data])
    expect(verify.code).toBe(ExitCode.invalid)
    const report = JSON.parse(verify.stdout) as { ok: boolean; error: { seq: number; reason: string } }
    expect(report.ok).toBe(false)
    expect(report.error.seq).toBe(target.seq)
    expect((JSON.parse(verify.stderr) as { error: { seq: number } }).error.seq).toBe(target.seq)
    const text = await qflow(['exec', 'verify', id, '--data-dir', data])
    expect(text.stderr).toContain(`entry ${target.seq} is broken: ${report.error.reason}`)
  })
})

async function walk(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await walk(path)))
    else if (entry.isFile()) out.push(path)
  }
  return out
}
