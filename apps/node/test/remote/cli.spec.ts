import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createQflowClient, type QflowClient } from '../../src/client/client.js'
import { createApiServer } from '../../src/server/server.js'
import { ExitCode } from '../../src/constants.js'
import { qflow, useTempDir } from '../fixtures/cli.js'
import { spawnQflow } from '../fixtures/node.js'
import { APPROVAL_YAML, cliEnv, delayedYaml, HELLO_V2_YAML, HELLO_YAML, json, qflowAt, type RemoteNode, startRemoteNode } from './fixtures.js'

const FAILING_YAML = `id: failing
name: Failing
version: 1.0.0
owner: did:key:z6Mkor76npWMRp5n8itqirHRnoD3kafYgWUejtyHrQULYacM
steps:
  - id: boom
    type: task
    action: data.transform
    params:
      expression: "$error('boom')"
`

interface LogLine {
  seq: number
  kind: string
  stepId?: string
  payload?: unknown
}

/** The JSON lines a `--json exec logs --follow` printed. */
function jsonLines(stdout: string): LogLine[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LogLine)
}

/** Resolves once `predicate` holds, checking every 50 ms (at most `tries` times). */
async function eventually(predicate: () => boolean | Promise<boolean>, tries = 400): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await predicate()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('the condition never held')
}

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = (server.address() as AddressInfo)
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

let remote: RemoteNode
let client: QflowClient
let files: string

beforeAll(async () => {
  remote = await startRemoteNode()
  client = createQflowClient({ api: remote.url, token: remote.adminToken })
  files = await mkdtemp(join(tmpdir(), 'qflow-cli-flows-'))
  await writeFile(join(files, 'hello.yaml'), HELLO_YAML)
  await writeFile(join(files, 'hello-v2.yaml'), HELLO_V2_YAML)
  await writeFile(join(files, 'approval.yaml'), APPROVAL_YAML)
  await writeFile(join(files, 'failing.yaml'), FAILING_YAML)
  await writeFile(join(files, 'delayed.yaml'), delayedYaml('delayed', 1_500))
  await writeFile(join(files, 'slow.yaml'), delayedYaml('slow', 600_000))
  await writeFile(join(files, 'broken.yaml'), HELLO_YAML.replace('type: task', 'type: taks').replace('id: hello', 'id: broken'))
})

afterAll(async () => {
  await remote?.close()
  if (files !== undefined) await rm(files, { recursive: true, force: true })
})

describe('qflow login and logout', () => {
  const tmp = useTempDir()

  it('checks the token against the node, writes the credentials file with mode 0600, and later commands use it', async () => {
    const env = cliEnv(tmp())
    const login = await qflow(['--json', 'login', '--api', `${remote.url}/`, '--token', remote.adminToken], { env })
    expect(login.code).toBe(0)
    const path = join(tmp(), 'qflow', 'credentials.json')
    expect(json(login)).toMatchObject({ api: remote.url, subject: remote.node.parts.admin.did, verified: true, credentials: path })
    expect((json(login) as { expiresAt: string }).expiresAt).toMatch(/^\d{4}-\d\d-\d\dT/)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(join(tmp(), 'qflow'))).mode & 0o777).toBe(0o700)
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ version: 1, api: remote.url, token: remote.adminToken, subject: remote.node.parts.admin.did })

    await client.flows.create(HELLO_YAML)
    const list = await qflow(['--json', 'flow', 'list'], { env })
    expect(list.code).toBe(0)
    expect((json<{ id: string }[]>(list)).map((f) => f.id)).toContain('hello')

    const logout = await qflow(['logout'], { env })
    expect(logout).toMatchObject({ code: 0, stdout: `logged out of ${remote.url} (removed ${path})\n` })
    expect(existsSync(path)).toBe(false)
    expect(await qflow(['logout'], { env })).toMatchObject({ code: 0, stdout: 'not logged in\n' })
    const after = await qflow(['flow', 'list'], { env })
    expect(after.code).toBe(ExitCode.unauthenticated)
    expect(after.stderr).toContain('No node to talk to')
  })

  it('refuses a token the node rejects (exit 3) and saves nothing', async () => {
    const env = cliEnv(tmp())
    const result = await qflow(['login', '--api', remote.url, '--token', 'eyJub3Q.aW4.dXNl'], { env })
    expect(result.code).toBe(ExitCode.unauthenticated)
    expect(result.stderr).toContain('[UNAUTHENTICATED, HTTP 401]')
    expect(existsSync(join(tmp(), 'qflow', 'credentials.json'))).toBe(false)
  })

  it('takes the node from QFLOW_API and the token from standard input', async () => {
    const env = cliEnv(tmp(), { QFLOW_API: remote.url })
    const result = await qflow(['login', '--token', '-'], { env, input: `${remote.adminToken}\n` })
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`logged in to ${remote.url} as ${remote.node.parts.admin.did}`)
    expect(JSON.parse(await readFile(join(tmp(), 'qflow', 'credentials.json'), 'utf8')).token).toBe(remote.adminToken)
  })

  it('exits 3 without a node or a token, and 6 when the node cannot be reached', async () => {
    expect((await qflow(['login', '--token', 'x'], { env: cliEnv(tmp()) })).code).toBe(ExitCode.unauthenticated)
    expect((await qflow(['login', '--api', remote.url], { env: cliEnv(tmp()) })).code).toBe(ExitCode.unauthenticated)
    const port = await closedPort()
    const unreachable = await qflow(['login', '--api', `http://127.0.0.1:${port}`, '--token', 'x'], { env: cliEnv(tmp()) })
    expect(unreachable.code).toBe(ExitCode.unreachable)
    expect(unreachable.stderr).toContain('connection refused')
    expect(existsSync(join(tmp(), 'qflow', 'credentials.json'))).toBe(false)
  })
})

describe('qflow flow … on a node', () => {
  it('creates flows from files (validated here first) and prints one revision record per file', async () => {
    const result = await qflowAt(remote, ['--json', 'flow', 'create', join(files, 'hello.yaml'), join(files, 'hello-v2.yaml')])
    expect(result.code).toBe(0)
    const stored = json<{ file: string; flowId: string; revision: number; flowVersion: string; action: string; flowHash: string; cid: string; actor: string; ts: number }[]>(result)
    expect(stored.map((s) => [s.file, s.flowId, s.flowVersion])).toEqual([
      [join(files, 'hello.yaml'), 'hello', '1.0.0'],
      [join(files, 'hello-v2.yaml'), 'hello', '1.1.0']
    ])
    expect(Object.keys(stored[1] ?? {}).sort()).toEqual(['action', 'actor', 'archived', 'cid', 'file', 'flowHash', 'flowId', 'flowVersion', 'revision', 'ts'])
    const text = await qflowAt(remote, ['flow', 'create', join(files, 'approval.yaml')])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/approval\.yaml: approval@1\.0\.0 is revision 1 \(b[a-z2-7]+\)\n$/)
  })

  it('stores nothing when one file is invalid, and prints its located problems (exit 1)', async () => {
    const result = await qflowAt(remote, ['flow', 'create', join(files, 'failing.yaml'), join(files, 'broken.yaml')])
    expect(result.code).toBe(ExitCode.invalid)
    expect(result.stderr).toContain('broken.yaml:10:5 error /steps/0/type unknown-step-type')
    expect((await qflowAt(remote, ['flow', 'show', 'failing'])).code).toBe(ExitCode.notFound)
  })

  it('lists and searches flows as a table and as JSON', async () => {
    await client.flows.create(HELLO_YAML)
    await client.flows.create(delayedYaml('delayed', 1_500))
    const table = await qflowAt(remote, ['flow', 'list', '--tag', 'greeting'])
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/^FLOW\s+VERSION\s+STATUS\s+CATEGORY\s+TAGS\s+UPDATED\s+NAME\n/)
    expect(table.stdout).toMatch(/\nhello\s+1\.\d\.0\s+active\s+testing\s+test,greeting\s+\S+\s+Hello\n/)
    expect(table.stdout).not.toContain('delayed')
    const all = json<{ id: string; tags: string[]; status: string; archived: boolean }[]>(await qflowAt(remote, ['--json', 'flow', 'list', '--tag', 'test']))
    expect(all.map((f) => f.id)).toEqual(expect.arrayContaining(['hello', 'delayed']))
    expect(all.find((f) => f.id === 'delayed')).toMatchObject({ tags: ['test', 'delay'], status: 'active', archived: false })
    expect(json<unknown[]>(await qflowAt(remote, ['--json', 'flow', 'list', '--tag', 'test', '--limit', '1']))).toHaveLength(1)
    expect((await qflowAt(remote, ['flow', 'list', '--category', 'nothing-here'])).stdout).toBe('no flows\n')
  })

  it('shows a flow, one of its versions, and its document', async () => {
    await client.flows.create(HELLO_YAML)
    await client.flows.create(HELLO_V2_YAML)
    const shown = await qflowAt(remote, ['flow', 'show', 'hello'])
    expect(shown.code).toBe(0)
    expect(shown.stdout).toMatch(/^flow {7}hello@1\.1\.0 \(Hello\)\nrevision {3}\d+ \(register\)/)
    expect(shown.stdout).toMatch(/\nSTEP\s+TYPE\s+RUNS\ncompose\s+task\s+data\.transform\nmeasure\s+task\s+data\.transform\n$/)
    const version = json<{ flow: { id: string; version: string }; version: { flowVersion: string; revision: number } }>(await qflowAt(remote, ['--json', 'flow', 'show', 'hello@1.0.0']))
    expect(version.flow).toMatchObject({ id: 'hello', version: '1.0.0' })
    expect(version.version.flowVersion).toBe('1.0.0')
    const document = await qflowAt(remote, ['flow', 'show', 'hello', '--flow-version', '1.0.0', '--document'])
    expect(parse(document.stdout)).toMatchObject({ id: 'hello', version: '1.0.0', steps: [{ id: 'compose' }, { id: 'measure' }] })
  })

  it('lists history and rolls back with the JSON shapes of the local commands', async () => {
    const flow = HELLO_YAML.replace('id: hello', 'id: versioned')
    await client.flows.create(flow)
    await client.flows.create(flow.replace('version: 1.0.0', 'version: 2.0.0'))
    const history = json<Record<string, unknown>[]>(await qflowAt(remote, ['--json', 'flow', 'history', 'versioned']))
    expect(history.map((v) => [v.revision, v.action, v.flowVersion])).toEqual([
      [2, 'register', '2.0.0'],
      [1, 'register', '1.0.0']
    ])
    expect(Object.keys(history[0] ?? {}).sort()).toEqual(['action', 'actor', 'archived', 'cid', 'flowHash', 'flowId', 'flowVersion', 'revision', 'ts'])
    const rollback = await qflowAt(remote, ['--json', 'flow', 'rollback', 'versioned', '1'])
    expect(rollback.code).toBe(0)
    expect(json(rollback)).toMatchObject({ flowId: 'versioned', revision: 3, action: 'rollback', rolledBackTo: 1, flowVersion: '1.0.0' })
    const table = await qflowAt(remote, ['flow', 'history', 'versioned'])
    expect(table.stdout).toMatch(/^REVISION\s+ACTION\s+VERSION\s+HASH\s+ARCHIVED\s+TIME\n\s+3\s+rollback to 1\s+1\.0\.0\s/)
    const archive = await qflowAt(remote, ['--json', 'flow', 'archive', 'versioned'])
    expect(json(archive)).toMatchObject({ flowId: 'versioned', revision: 4, action: 'archive', archived: true })
    expect((await qflowAt(remote, ['flow', 'rollback', 'nobody', '1'])).code).toBe(ExitCode.notFound)
  })
})

describe('qflow exec … on a node', () => {
  it('exec start --wait prints the result, as text and as JSON', async () => {
    await client.flows.create(HELLO_YAML)
    // QFLOW_DEBUG=1 would say so on stderr if the event stream could not be used
    const text = await qflowAt(remote, ['exec', 'start', 'hello@1.0.0', '--input', '{"name":"Ada"}', '--wait'], { env: { QFLOW_DEBUG: '1' } })
    expect(text.code).toBe(0)
    expect(JSON.parse(text.stdout)).toEqual({ greeting: 'Hello, Ada', length: 10 })
    expect(text.stderr).toMatch(/^exec-[0-9a-f-]+ completed in \S+\n$/)
    const result = await qflowAt(remote, ['--json', 'exec', 'start', 'hello', '--flow-version', '1.0.0', '--input', '@-', '--wait', '--execution-id', 'exec-cli-wait'], {
      input: '{"name":"Grace"}'
    })
    expect(result.code).toBe(0)
    expect(json(result)).toEqual({
      executionId: 'exec-cli-wait',
      flowId: 'hello',
      flowVersion: '1.0.0',
      flowHash: (await client.flows.getVersion('hello', '1.0.0')).version.flowHash,
      status: 'completed',
      output: { greeting: 'Hello, Grace', length: 12 }
    })
  })

  it('exec start --wait --progress draws the progress on stderr, and exits 1 when the execution fails', async () => {
    await client.flows.create(delayedYaml('delayed', 1_500))
    const progress = await qflowAt(remote, ['exec', 'start', 'delayed', '--wait', '--progress'])
    expect(progress.code).toBe(0)
    expect(progress.stdout).toBe('"waited"\n')
    expect(progress.stderr).toMatch(/^exec-[0-9a-f-]+: running, 0\/2 steps(, at wait)?, \S+\n/)
    expect(progress.stderr).toMatch(/\nexec-[0-9a-f-]+ completed in \S+\n$/)
    await client.flows.create(FAILING_YAML)
    const failed = await qflowAt(remote, ['--json', 'exec', 'start', 'failing', '--wait'])
    expect(failed.code).toBe(ExitCode.invalid)
    expect(json(failed)).toMatchObject({ flowId: 'failing', status: 'failed', error: { stepId: 'boom', message: 'boom' } })
  })

  it('exec start prints the id; status, logs and list read it back', async () => {
    await client.flows.create(HELLO_YAML)
    const started = await qflowAt(remote, ['exec', 'start', 'hello', '--input', '{"name":"Lin"}'])
    expect(started.code).toBe(0)
    const id = started.stdout.trim()
    expect(id).toMatch(/^exec-[0-9a-f-]+$/)
    await eventually(async () => (await client.executions.get(id)).status === 'completed')

    const status = json<Record<string, unknown>>(await qflowAt(remote, ['--json', 'exec', 'status', id]))
    expect(status).toMatchObject({ executionId: id, status: 'completed', flowId: 'hello', output: { greeting: 'Hello, Lin' } })
    expect(Object.keys(status).sort()).toEqual(['actor', 'executionId', 'flowHash', 'flowId', 'flowVersion', 'output', 'startedAt', 'status', 'steps', 'updatedAt'])
    expect((status.steps as { stepId: string; status: string }[]).map((s) => [s.stepId, s.status])).toEqual([
      ['compose', 'succeeded'],
      ['measure', 'succeeded']
    ])
    const statusText = await qflowAt(remote, ['exec', 'status', id])
    expect(statusText.stdout).toMatch(new RegExp(`^execution  ${id}\\nstatus     completed\\nflow       hello@1\\.\\d\\.0 `))

    const logs = json<{ executionId: string; entries: LogLine[] }>(await qflowAt(remote, ['--json', 'exec', 'logs', id]))
    expect(logs.executionId).toBe(id)
    // Both steps are pure: the run is one entry, the one completing measure and the execution,
    // carrying the start and compose's completion.
    expect(logs.entries.map((e) => [e.seq, e.kind, e.stepId])).toEqual([[0, 'completed', 'measure']])
    const carried = logs.entries[0]?.payload as { preceding?: { stepId: string }[]; started?: { flowId: string; input: unknown } } | undefined
    expect(carried?.preceding?.map((c) => c.stepId)).toEqual(['compose'])
    expect(carried?.started).toMatchObject({ flowId: 'hello', input: { name: 'Lin' } })
    const after = json<{ entries: LogLine[] }>(await qflowAt(remote, ['--json', 'exec', 'logs', id, '--after', '0']))
    expect(after.entries).toEqual([])
    // The table shows the carried start and completion as rows of their own, under the entry's seq.
    const logTable = (await qflowAt(remote, ['exec', 'logs', id])).stdout.split('\n')
    expect(logTable[0]).toMatch(/^SEQ\s+TIME\s+KIND\s+STEP\s+ATTEMPT\s+PAYLOAD$/)
    expect(logTable.slice(1, 5).map((line) => line.trim().split(/\s+/).slice(0, 5))).toEqual([
      ['0', expect.any(String), 'started', '-', '-'],
      ['0', expect.any(String), 'step-completed', 'compose', '1'],
      ['0', expect.any(String), 'completed', 'measure', '1'],
      ['']
    ])
    expect(logTable[1]).toMatch(/ started +- +- +\{"actor":"did:key:/)
    expect(logTable[3]).not.toContain('preceding')
    expect(logTable[3]).not.toContain('started')

    const list = json<{ executionId: string; flowId: string; status: string; entries: number }[]>(await qflowAt(remote, ['--json', 'exec', 'list', '--flow', 'hello', '--status', 'completed']))
    const row = list.find((r) => r.executionId === id)
    expect(row).toMatchObject({ flowId: 'hello', status: 'completed', entries: logs.entries.length })
    expect(list.every((r) => r.flowId === 'hello' && r.status === 'completed')).toBe(true)
    expect(json<unknown[]>(await qflowAt(remote, ['--json', 'exec', 'list', '--limit', '1']))).toHaveLength(1)
    const table = await qflowAt(remote, ['exec', 'list', '--flow', 'hello'])
    expect(table.stdout).toMatch(/^EXECUTION\s+STATUS\s+FLOW\s+ENTRIES\s+STARTED\s+UPDATED\n/)
  })

  it('exec logs --follow streams entries and ends when the execution ends', async () => {
    await client.flows.create(delayedYaml('delayed', 1_500))
    const { executionId } = await client.flows.start('delayed')
    const follow = await qflowAt(remote, ['--json', '--verbose', 'exec', 'logs', '--follow', executionId])
    expect(follow.code).toBe(0)
    expect(follow.stderr).toBe('')
    const lines = jsonLines(follow.stdout)
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i))
    expect(lines.at(-1)).toMatchObject({ kind: 'completed', stepId: 'done' })
    expect(lines.filter((l) => l.kind === 'step-completed').map((l) => l.stepId)).toEqual(['wait'])
  })

  it('exec start --wait reports waiting for an event; exec trigger delivers it and a live logs --follow ends with the execution', async () => {
    await client.flows.create(APPROVAL_YAML)
    const waiting = await qflowAt(remote, ['--json', 'exec', 'start', 'approval', '--input', '{"ticket":"T-42"}', '--wait'])
    expect(waiting.code).toBe(0)
    const { executionId, status } = json<{ executionId: string; status: string }>(waiting)
    expect(status).toBe('waiting')

    const follow = spawnQflow(['exec', 'logs', '--follow', executionId], cliEnv(join(remote.dir, 'no-login'), { QFLOW_API: remote.url, QFLOW_TOKEN: remote.adminToken }))
    try {
      await eventually(() => follow.stdout().includes('step-dispatched'))
      const trigger = await qflowAt(remote, ['--json', 'exec', 'trigger', 'q.test.approved.v1', '--payload', '{"ticket":"T-42","by":"Ada"}'])
      expect(json(trigger)).toEqual({ name: 'q.test.approved.v1', delivered: 1 })
      expect((await follow.exited).code).toBe(0)
    } finally {
      follow.child.kill()
    }
    const rows = follow.stdout().trimEnd().split('\n')
    expect(rows[0]).toMatch(/^\s+SEQ\s+TIME\s+KIND\s+STEP\s+ATTEMPT\s+PAYLOAD$/)
    // The last step's completion is the execution's: one `completed` row naming the step.
    expect(rows.at(-1)).toMatch(new RegExp(`^\\s+\\d+\\s+\\S+\\s+completed\\s+finish\\s+1\\s+\\{"idempotencyKey":"${executionId.slice(0, 30)}`))
    expect(follow.stderr()).toBe(`${executionId} completed\n`)
    const none = await qflowAt(remote, ['exec', 'trigger', 'q.test.approved.v1', '--payload', '{"ticket":"T-42"}'])
    expect(none.stdout).toBe('q.test.approved.v1: delivered to 0 waiting steps\n')
  })

  it('exec start --wait --timeout stops waiting (exit 1) and leaves the execution running', async () => {
    await client.flows.create(delayedYaml('slow', 600_000))
    const result = await qflowAt(remote, ['--json', 'exec', 'start', 'slow', '--wait', '--timeout', '1', '--execution-id', 'exec-cli-timeout'])
    expect(result.code).toBe(ExitCode.invalid)
    expect(json(result)).toMatchObject({ executionId: 'exec-cli-timeout', flowId: 'slow', status: 'running' })
    expect(JSON.parse(result.stderr)).toMatchObject({ error: { executionId: 'exec-cli-timeout', status: 'running' } })
    expect((await client.executions.get('exec-cli-timeout')).status).toBe('running')
    await client.executions.abort('exec-cli-timeout')
  })

  it('pauses, resumes and aborts; resuming an aborted execution exits 1 and following it exits 1', async () => {
    await client.flows.create(delayedYaml('slow', 600_000))
    const { executionId } = await client.flows.start('slow')
    const pause = await qflowAt(remote, ['--json', 'exec', 'pause', executionId, '--reason', 'maintenance'])
    expect(json(pause)).toEqual({ executionId, status: 'paused' })
    expect((await client.executions.get(executionId)).pausedReason).toBe('maintenance')
    const resume = await qflowAt(remote, ['exec', 'resume', executionId])
    expect(resume).toMatchObject({ code: 0, stdout: `${executionId}: resumed (now running)\n` })
    const abort = await qflowAt(remote, ['--json', 'exec', 'abort', executionId, '--reason', 'test over'])
    expect(json(abort)).toEqual({ executionId, status: 'aborted' })
    const again = await qflowAt(remote, ['--json', 'exec', 'resume', executionId])
    expect(again.code).toBe(ExitCode.invalid)
    expect(JSON.parse(again.stderr)).toMatchObject({ error: { name: 'ApiConflictError', status: 409, code: 'CONFLICT' } })
    const follow = await qflowAt(remote, ['exec', 'logs', '--follow', executionId])
    expect(follow.code).toBe(ExitCode.invalid)
    expect(follow.stdout.trimEnd().split('\n').at(-1)).toMatch(/\saborted\s/)
  })
})

describe('exit codes and the node a command talks to', () => {
  const tmp = useTempDir()

  it('exits 3 for a refused token (401), 4 for a forbidden action (403) and 5 for what does not exist (404)', async () => {
    await client.flows.create(HELLO_YAML)
    const refused = await qflowAt(remote, ['--json', 'flow', 'list'], { env: { QFLOW_TOKEN: 'eyJub3Q.aW4.dXNl' } })
    expect(refused.code).toBe(ExitCode.unauthenticated)
    expect(refused.stdout).toBe('')
    const error = (JSON.parse(refused.stderr) as { error: { name: string; status: number; code: string; requestId: string } }).error
    expect(error).toMatchObject({ name: 'ApiUnauthenticatedError', status: 401, code: 'UNAUTHENTICATED' })
    expect(error.requestId).toMatch(/.+/)
    const forbidden = await qflowAt(remote, ['flow', 'show', 'hello'], { env: { QFLOW_TOKEN: remote.strangerToken } })
    expect(forbidden.code).toBe(ExitCode.forbidden)
    expect(forbidden.stderr).toContain('[FORBIDDEN, HTTP 403]')
    const startForbidden = await qflowAt(remote, ['exec', 'start', 'hello', '--wait'], { env: { QFLOW_TOKEN: remote.strangerToken } })
    expect(startForbidden.code).toBe(ExitCode.forbidden)
    const missing = await qflowAt(remote, ['exec', 'status', 'exec-does-not-exist'])
    expect(missing.code).toBe(ExitCode.notFound)
    expect(missing.stderr).toContain('[NOT_FOUND, HTTP 404]')
    expect((await qflowAt(remote, ['exec', 'start', 'no-such-flow'])).code).toBe(ExitCode.notFound)
    expect((await qflowAt(remote, ['flow', 'show', 'no-such-flow'])).code).toBe(ExitCode.notFound)
  })

  it('falls back to polling when the node has no event stream', async () => {
    const bare = await createApiServer(remote.node, { logLevel: 'silent', ws: false })
    const { url } = await bare.listen({ host: '127.0.0.1', port: 0 })
    try {
      await client.flows.create(delayedYaml('delayed', 1_500))
      const env = { QFLOW_API: url, QFLOW_DEBUG: '1' }
      const waited = await qflowAt(remote, ['exec', 'start', 'delayed', '--wait'], { env })
      expect(waited.code).toBe(0)
      expect(waited.stdout).toBe('"waited"\n')
      expect(waited.stderr).toMatch(/^qflow: no event stream \(ApiNotFoundError: .*\); polling the node instead\n/)
      const id = (await client.flows.start('delayed')).executionId
      const follow = await qflowAt(remote, ['--json', 'exec', 'logs', '--follow', id], { env })
      expect(follow.code).toBe(0)
      expect(jsonLines(follow.stdout).at(-1)?.kind).toBe('completed')
    } finally {
      await bare.close()
    }
  })

  it('exits 3 without a node or a token, 6 when the node cannot be reached, 1 for bad input', async () => {
    expect((await qflow(['exec', 'start', 'hello'], { env: cliEnv(tmp()) })).code).toBe(ExitCode.unauthenticated)
    const noToken = await qflow(['flow', 'list'], { env: cliEnv(tmp(), { QFLOW_API: remote.url }) })
    expect(noToken.code).toBe(ExitCode.unauthenticated)
    expect(noToken.stderr).toContain(`No token for ${remote.url}`)
    const port = await closedPort()
    const down = await qflow(['--json', 'exec', 'list', '--api', `http://127.0.0.1:${port}`], { env: cliEnv(tmp(), { QFLOW_TOKEN: 't' }) })
    expect(down.code).toBe(ExitCode.unreachable)
    expect(JSON.parse(down.stderr)).toMatchObject({ error: { name: 'NodeUnreachableError', reason: 'refused' } })
    expect((await qflowAt(remote, ['exec', 'start', 'hello', '--input', '{oops'])).code).toBe(ExitCode.invalid)
    expect((await qflowAt(remote, ['flow', 'list', '--api', 'ftp://x'])).code).toBe(ExitCode.invalid)
    expect((await qflow(['exec', 'logs', '--follow', 'x', '--data-dir', tmp()], { env: cliEnv(tmp()) })).code).toBe(ExitCode.unauthenticated)
  })

  it('--api beats QFLOW_API, and an explicit --data-dir keeps list, status, logs and history local', async () => {
    await client.flows.create(HELLO_YAML)
    const port = await closedPort()
    const flag = await qflow(['--json', 'flow', 'list', '--api', remote.url], { env: cliEnv(tmp(), { QFLOW_API: `http://127.0.0.1:${port}`, QFLOW_TOKEN: remote.adminToken }) })
    expect(flag.code).toBe(0)
    const env = cliEnv(tmp(), { QFLOW_API: remote.url, QFLOW_TOKEN: remote.adminToken })
    const remoteList = json<unknown[]>(await qflow(['--json', 'exec', 'list'], { env }))
    expect(remoteList.length).toBeGreaterThan(0)
    const local = await qflow(['--json', 'exec', 'list', '--data-dir', join(tmp(), 'data')], { env })
    expect(local.code).toBe(0)
    expect(json(local)).toEqual([])
    // the node has hello; the empty data directory has not
    const localHistory = await qflow(['--json', 'flow', 'history', 'hello', '--data-dir', join(tmp(), 'data')], { env })
    expect(localHistory.code).toBe(ExitCode.invalid)
    expect(JSON.parse(localHistory.stderr)).toMatchObject({ error: { name: 'FlowNotFoundError', ref: 'hello' } })
  })
})

describe('help of the commands that talk to a node', () => {
  const COMMANDS = [
    ['login'],
    ['logout'],
    ['flow', 'create'],
    ['flow', 'list'],
    ['flow', 'show'],
    ['flow', 'archive'],
    ['exec', 'start'],
    ['exec', 'trigger'],
    ['exec', 'pause'],
    ['exec', 'resume'],
    ['exec', 'abort'],
    ['exec', 'list'],
    ['exec', 'status'],
    ['exec', 'logs'],
    ['flow', 'history'],
    ['flow', 'rollback']
  ]

  it.each(COMMANDS.map((c) => [c.join(' '), c] as const))('%s --help has usage, examples and exit codes', async (_name, command) => {
    const result = await qflow([...command, '--help'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(new RegExp(`^Usage: qflow ${command.join(' ')} `))
    expect(result.stdout).toContain(`Examples:\n  $ qflow ${command[0]}`)
    if (command[0] !== 'logout') expect(result.stdout).toContain('Exit codes: 0 ok, 1 failed')
    if (command[0] !== 'logout' && command[0] !== 'login') expect(result.stdout).toContain('--api <url>')
  })
})
