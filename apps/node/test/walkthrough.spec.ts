import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { generateStandardWebhooksSecret, signStandardWebhook } from '@qflow/webhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { type RunningDaemon, startDaemon } from './daemon/daemon-fixture.js'
import { type CliResult, qflow, REPO_ROOT } from './fixtures/cli.js'

/**
 * The newcomer's walk of docs/operations.md ("First run"), every step a child process of
 * `dist/cli.js` (or of the example script) against a node started by `qflow node start` on a
 * temporary data directory: start, log in, create the example flows and grant the webhook one's
 * owner its run, run one and print its result,
 * watch it over the WebSocket, follow another's log, store a webhook secret, trigger the webhook
 * example with a signed request, see a forged one refused, stop with SIGTERM.
 */

const TRIGGER_SCRIPT = join(REPO_ROOT, 'examples/api/trigger-webhook.mjs')
const WELCOME = 'examples/flows/welcome.yaml'
const WEBHOOK_ECHO_FILE = 'examples/flows/webhook-echo.yaml'
const WEBHOOK_ECHO = join(REPO_ROOT, WEBHOOK_ECHO_FILE)
const WELCOME_OUTPUT = { greeting: 'Hello, Ada! Glad you are here.', letters: 8, shouted: 'HELLO, ADA!' }
const runFile = promisify(execFile)

interface WsMessage {
  type: string
  id?: string
  subscription?: string
  // biome-ignore lint/suspicious/noExplicitAny: events are read freely; the protocol tests check their shape
  event?: { eventId: string; type: string; actor: string; source: string; data: any }
}

/** A `ws` client that keeps every message, and resolves waits on what arrives. */
interface Watcher {
  readonly messages: WsMessage[]
  /** Resolves with the first message (so far or to come) `match` accepts. */
  next(match: (message: WsMessage) => boolean): Promise<WsMessage>
  /** Resolves with the close code once the socket is closed. */
  readonly closed: Promise<number>
  readonly socket: WebSocket
}

function watch(url: string, token: string): Promise<Watcher> {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/ws`, { headers: { authorization: `Bearer ${token}` } })
  const messages: WsMessage[] = []
  const waiters: { match: (m: WsMessage) => boolean; resolve: (m: WsMessage) => void }[] = []
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as WsMessage
    messages.push(message)
    for (const w of waiters.splice(0)) {
      if (w.match(message)) w.resolve(message)
      else waiters.push(w)
    }
  })
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)))
  return new Promise((resolve, reject) => {
    socket.once('error', reject)
    socket.once('open', () =>
      resolve({
        messages,
        socket,
        closed,
        next: (match) => {
          const found = messages.find(match)
          return found !== undefined ? Promise.resolve(found) : new Promise((r) => waiters.push({ match, resolve: r }))
        }
      })
    )
  })
}

/** `json` of a CLI run, with the run in the failure message when it is not JSON. */
function parsed<T>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T
  } catch {
    throw new Error(`not JSON (exit ${result.code}):\n${result.stdout}\n--- stderr ---\n${result.stderr}`)
  }
}

describe('a first run, as docs/operations.md walks it', () => {
  let dir: string
  let env: Record<string, string>
  let daemon: RunningDaemon | undefined
  let watcher: Watcher | undefined
  let url: string
  let token: string
  let adminDid: string
  let welcomeRun: string
  let secret: string
  let echoOwner: string
  const run = (args: readonly string[], input?: string) => qflow(args, { env, ...(input === undefined ? {} : { input }) })
  const countOf = async (flowId: string) => parsed<unknown[]>(await run(['--json', 'exec', 'list', '--flow', flowId])).length

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qflow-walkthrough-'))
    // Nothing inherited names a node, a token or a data directory: the saved login is the only way in.
    env = { XDG_CONFIG_HOME: join(dir, 'config'), QFLOW_API: '', QFLOW_TOKEN: '', QFLOW_DATA_DIR: '', QFLOW_CONFIG: '' }
  })

  afterAll(async () => {
    watcher?.socket.terminate()
    if (daemon !== undefined && daemon.process.child.exitCode === null && daemon.process.child.signalCode === null) {
      daemon.process.child.kill('SIGKILL')
      await daemon.process.exited
    }
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('qflow node start prints where the API answers and, on the first start, the admin token with the login command', async () => {
    daemon = await startDaemon(['--data-dir', join(dir, 'data')], env)
    const stderr = daemon.stderr()
    const announced = /qflow node: the API answers at (http:\/\/127\.0\.0\.1:\d+) /.exec(stderr)
    const login = /^ {2}qflow login --api (\S+) --token (\S+)$/m.exec(stderr)
    const admin = /^Admin token for (did:key:z6Mk\S+)$/m.exec(stderr)
    expect(announced?.[1]).toBe(daemon.url)
    expect(login?.[1]).toBe(daemon.url)
    url = daemon.url
    token = login?.[2] as string
    adminDid = admin?.[1] as string
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    expect(daemon.logs().find((l) => l.msg === 'node started')).toMatchObject({ adminDid, firstStart: true })
    // Printed once: it is on standard error only, not in the JSON logs.
    expect(JSON.stringify(daemon.logs())).not.toContain(token)

    const status = await run(['node', 'status', '--data-dir', join(dir, 'data')])
    expect(status.code).toBe(0)
  })

  it('qflow login saves the node and token (mode 0600) after the node accepted it', async () => {
    const result = await run(['login', '--api', url, '--token', token])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`logged in to ${url} as ${adminDid}`)
    const credentials = join(dir, 'config', 'qflow', 'credentials.json')
    expect((await stat(credentials)).mode & 0o777).toBe(0o600)
    expect(JSON.parse(await readFile(credentials, 'utf8'))).toMatchObject({ api: url, token, subject: adminDid })
  })

  it('qflow flow create stores the example flows, and qflow grant add lets the webhook one’s owner run it', async () => {
    const welcome = await run(['flow', 'create', WELCOME])
    expect(welcome.code).toBe(0)
    expect(welcome.stdout).toMatch(/^examples\/flows\/welcome\.yaml: welcome@1\.0\.0 is revision 1 \(b\w+\)$/m)

    const created = await run(['flow', 'create', WEBHOOK_ECHO_FILE])
    expect(created.code).toBe(0)
    expect(created.stdout).toMatch(/^examples\/flows\/webhook-echo\.yaml: webhook-echo@1\.0\.0 is revision 1 \(b\w+\)$/m)
    const listed = parsed<{ id: string }[]>(await run(['--json', 'flow', 'list', '--tag', 'onboarding']))
    expect(listed.map((f) => f.id).sort()).toEqual(['webhook-echo', 'welcome'])

    // The webhook run acts as the flow's owner, and on a fresh node only the admin holds grants:
    // the guide grants the owner (the file's `owner:`, which `qflow flow show` prints) `execute` on the flow.
    const shown = await run(['flow', 'show', 'webhook-echo'])
    const owner = /^owner\s+(did:key:\S+)$/m.exec(shown.stdout)?.[1] as string
    echoOwner = owner
    expect(owner).toBe(/^owner: (\S+)$/m.exec(await readFile(WEBHOOK_ECHO, 'utf8'))?.[1])
    expect(owner).not.toBe(adminDid)
    const granted = await run(['grant', 'add', owner, 'qflow:flow:webhook-echo', '--actions', 'execute'])
    expect(granted.code).toBe(0)
    expect(granted.stdout).toMatch(new RegExp(`^grant [0-9a-f-]{36}: ${owner} may execute on qflow:flow:webhook-echo \\(never expires\\)\n$`))
    const grants = parsed<{ subject: string; resource: string; actions: string[] }[]>(await run(['--json', 'grant', 'list', '--resource', 'qflow:flow:webhook-echo']))
    expect(grants.map((g) => [g.subject, g.resource, g.actions])).toEqual(
      expect.arrayContaining([
        [owner, 'qflow:flow:webhook-echo', ['execute']],
        [adminDid, 'qflow:**', ['*']]
      ])
    )
  })

  it('qflow exec start --wait prints the result, while a WebSocket client receives the execution’s q.qflow.*.v1 events in order', async () => {
    watcher = await watch(url, token)
    watcher.socket.send(JSON.stringify({ type: 'subscribe', id: 'welcome', filter: { flowId: 'welcome' } }))
    watcher.socket.send(JSON.stringify({ type: 'subscribe', id: 'hooks', filter: { flowId: 'webhook-echo', events: ['q.qflow.exec.started.v1', 'q.qflow.exec.completed.v1'] } }))
    await watcher.next((m) => m.type === 'subscribed' && m.id === 'welcome')
    await watcher.next((m) => m.type === 'subscribed' && m.id === 'hooks')

    const result = await run(['exec', 'start', 'welcome', '--input', '{"name":"Ada"}', '--wait'])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual(WELCOME_OUTPUT)
    const done = /^(exec-\S+) completed in \S+$/m.exec(result.stderr)
    expect(done).not.toBeNull()
    welcomeRun = done?.[1] as string

    const ofRun = (m: WsMessage) => m.type === 'event' && m.subscription === 'welcome' && m.event?.data.executionId === welcomeRun
    await watcher.next((m) => ofRun(m) && m.event?.type === 'q.qflow.exec.completed.v1')
    const events = watcher.messages.filter(ofRun).map((m) => m.event as NonNullable<WsMessage['event']>)
    for (const event of events) {
      expect(event.type).toMatch(/^q\.qflow\.[a-z]+(\.[a-z]+)*\.v1$/)
      expect(event).toMatchObject({ actor: adminDid, data: { flowId: 'welcome', executionId: welcomeRun } })
    }
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length)
    expect(events[0]?.type).toBe('q.qflow.exec.started.v1')
    expect(events.at(-1)).toMatchObject({ type: 'q.qflow.exec.completed.v1', data: { status: 'completed' } })
    // Each step completes once, successfully. Steps handed off (the durable delay, the parallel
    // split) are reported dispatched first; transforms run inline and report only their completion.
    const completed = events.filter((e) => e.type === 'q.qflow.exec.step.completed.v1')
    expect(completed.every((e) => e.data.status === 'succeeded')).toBe(true)
    expect(new Set(completed.map((e) => e.data.stepId)).size).toBe(completed.length)
    const dispatchedPause = events.findIndex((e) => e.type === 'q.qflow.exec.step.dispatched.v1' && e.data.stepId === 'pause')
    const completedPause = events.findIndex((e) => e.type === 'q.qflow.exec.step.completed.v1' && e.data.stepId === 'pause')
    expect(dispatchedPause).toBeGreaterThan(0)
    expect(completedPause).toBeGreaterThan(dispatchedPause)
    // The steps the events report are the steps the execution's state records.
    const state = parsed<{ status: string; output: unknown; steps: { stepId: string; status: string }[] }>(await run(['--json', 'exec', 'status', welcomeRun]))
    expect(state).toMatchObject({ status: 'completed', output: WELCOME_OUTPUT })
    const reported = new Set(events.filter((e) => e.type.startsWith('q.qflow.exec.step.')).map((e) => e.data.stepId as string))
    expect([...reported].sort()).toEqual(state.steps.map((s) => s.stepId).sort())
  })

  it('qflow exec logs --follow prints another execution’s entries as they come, and exits 0 when it completes', async () => {
    const started = await run(['exec', 'start', 'welcome', '--input', '{"name":"Grace"}'])
    expect(started.code).toBe(0)
    const id = started.stdout.trim()
    expect(id).toMatch(/^exec-\S+$/)
    const followed = await run(['--json', 'exec', 'logs', '--follow', id])
    expect(followed.code).toBe(0)
    const entries = followed.stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as { seq: number; kind: string; payload: { message?: string } })
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i))
    expect(entries[0]?.kind).toBe('started')
    expect(entries.at(-1)?.kind).toBe('completed')
    expect(entries.find((e) => e.kind === 'log')?.payload.message).toBe('HELLO, GRACE!')
  })

  it('qflow secret set --generate stores the webhook’s signing secret and prints it once', async () => {
    const result = await run(['secret', 'set', 'webhook-echo-secret', '--generate'])
    expect(result.code).toBe(0)
    secret = result.stdout.trim()
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    const listed = parsed<{ name: string }[]>(await run(['--json', 'secret', 'list']))
    expect(listed.map((s) => s.name)).toEqual(['webhook-echo-secret'])
    expect(JSON.stringify(listed)).not.toContain(secret)
  })

  it('a signed POST /webhooks/webhook-echo/inbound (examples/api/trigger-webhook.mjs) answers with the flow’s result; the same id again is refused', async () => {
    const webhookId = 'msg_walkthrough_1'
    const sent = await runFile(process.execPath, [TRIGGER_SCRIPT, 'webhook-echo', 'inbound', '{"type":"greeting","data":{"name":"Ada"}}'], {
      env: { ...process.env, QFLOW_API: url, QFLOW_WEBHOOK_SECRET: secret, QFLOW_WEBHOOK_ID: webhookId }
    })
    const lines = sent.stdout.trim().split('\n')
    expect(lines[0]).toBe(`POST ${url}/webhooks/webhook-echo/inbound (webhook-id ${webhookId})`)
    const answer = JSON.parse(lines.at(-1) as string)
    expect(answer).toMatchObject({ success: true, data: { flowId: 'webhook-echo', status: 'completed' } })
    const { executionId } = answer.data
    expect(executionId).toMatch(/^exec-wh-/)
    expect(answer.data.output).toEqual({ received: 'greeting', fields: 1, echo: { name: 'Ada' }, execution: executionId })
    expect(lines[1]).toBe(`200: execution ${executionId} completed`)

    // What the node answered is what it stored, and the watcher saw it start by the webhook trigger.
    const state = parsed<{ status: string; output: unknown; actor: string }>(await run(['--json', 'exec', 'status', executionId]))
    // It ran as the flow's owner, whom the grant above lets run it.
    expect(state).toMatchObject({ status: 'completed', output: answer.data.output, actor: echoOwner })
    const startedEvent = await (watcher as Watcher).next((m) => m.subscription === 'hooks' && m.event?.type === 'q.qflow.exec.started.v1')
    expect(startedEvent.event?.data).toMatchObject({ executionId, flowId: 'webhook-echo', trigger: 'webhook:inbound' })

    const replayed = await runFile(process.execPath, [TRIGGER_SCRIPT, 'webhook-echo', 'inbound', '{"type":"greeting","data":{"name":"Ada"}}'], {
      env: { ...process.env, QFLOW_API: url, QFLOW_WEBHOOK_SECRET: secret, QFLOW_WEBHOOK_ID: webhookId }
    }).catch((err: { code: number; stdout: string; stderr: string }) => err)
    expect((replayed as { code: number }).code).toBe(1)
    expect((replayed as { stderr: string }).stderr).toContain('409 WEBHOOK_REPLAYED')
    expect(JSON.parse((replayed as { stdout: string }).stdout.trim().split('\n').at(-1) as string)).toMatchObject({
      error: { code: 'WEBHOOK_REPLAYED', details: { id: webhookId, from: 'webhook-id', flowId: 'webhook-echo', triggerId: 'inbound' } }
    })
    expect(await countOf('webhook-echo')).toBe(1)
  })

  it('a forged signature is refused with 401 and starts nothing', async () => {
    const body = '{"type":"greeting","data":{"name":"Mallory"}}'
    // Signed with a secret the node does not hold.
    const forged = await runFile(process.execPath, [TRIGGER_SCRIPT, 'webhook-echo', 'inbound', body], {
      env: { ...process.env, QFLOW_API: url, QFLOW_WEBHOOK_SECRET: generateStandardWebhooksSecret() }
    }).catch((err: { code: number; stdout: string; stderr: string }) => err)
    expect((forged as { code: number }).code).toBe(1)
    expect(JSON.parse((forged as { stdout: string }).stdout.trim().split('\n').at(-1) as string)).toMatchObject({
      success: false,
      error: { code: 'UNAUTHENTICATED', details: { scheme: 'standard-webhooks', reason: 'bad-signature' } }
    })

    // Signed with the right secret, but for another body.
    const id = 'msg_walkthrough_tampered'
    const timestamp = Math.floor(Date.now() / 1000)
    const tampered = await fetch(`${url}/webhooks/webhook-echo/inbound`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signStandardWebhook(secret, { id, timestamp, payload: '{"type":"greeting","data":{"name":"Ada"}}' })
      },
      body
    })
    expect(tampered.status).toBe(401)
    expect(await tampered.json()).toMatchObject({ success: false, error: { code: 'UNAUTHENTICATED', details: { reason: 'bad-signature' } } })

    expect(await countOf('webhook-echo')).toBe(1)
  })

  it('SIGTERM stops the node: the WebSocket is closed as going away, and the process exits 0', async () => {
    const running = daemon as RunningDaemon
    const exit = await running.stop('SIGTERM')
    expect(exit).toEqual({ code: 0, signal: null })
    expect(running.logs().some((l) => l.msg === 'stopped')).toBe(true)
    expect(await (watcher as Watcher).closed).toBe(1001)
    const status = await run(['node', 'status', '--data-dir', join(dir, 'data')])
    expect(status.code).toBe(6)
  })
})
