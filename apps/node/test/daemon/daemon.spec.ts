import { existsSync } from 'node:fs'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { qflow, REPO_ROOT, useTempDir, writeFiles } from '../fixtures/cli.js'
import { doublingFlow } from '../fixtures/flows.js'
import { spawnQflow } from '../fixtures/node.js'
import { adminToken, api, type RunningDaemon, startDaemon } from './daemon-fixture.js'

const SIMPLE_FLOW = doublingFlow('indexed')

/** The admin token and login command `qflow node start` prints on standard error, if it did. */
function printedToken(stderr: string): { url: string; token: string } | undefined {
  const m = /qflow login --api (\S+) --token (\S+)/.exec(stderr)
  return m === null ? undefined : { url: m[1] as string, token: m[2] as string }
}

describe('qflow node start', () => {
  const tmp = useTempDir()
  const running: RunningDaemon[] = []

  afterEach(async () => {
    for (const daemon of running.splice(0)) if (daemon.process.child.exitCode === null) await daemon.stop('SIGKILL')
  })

  async function start(args: readonly string[] = [], env: Record<string, string> = {}): Promise<RunningDaemon> {
    const daemon = await startDaemon(['--data-dir', join(tmp(), 'node'), ...args], env)
    running.push(daemon)
    return daemon
  }

  it('listens on port 0, logs the bound URL as JSON, answers, and exits 0 on SIGTERM releasing the data directory', async () => {
    const daemon = await start()
    expect(daemon.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(Number(new URL(daemon.url).port)).toBeGreaterThan(0)
    for (const line of daemon.logs()) expect(line).toMatchObject({ level: expect.any(String), time: expect.any(String), name: 'qflow', pid: daemon.process.child.pid })
    expect(daemon.stderr()).toContain(`the API answers at ${daemon.url}`)

    const ready = await api(daemon.url, 'GET', '/health/ready', undefined)
    expect(ready.status).toBe(200)
    expect(ready.body.data).toMatchObject({ status: 'ready' })
    const dataDir = join(tmp(), 'node')
    expect(existsSync(join(dataDir, 'LOCK'))).toBe(true)
    expect(JSON.parse(await readFile(join(dataDir, 'daemon.json'), 'utf8'))).toMatchObject({ pid: daemon.process.child.pid, url: daemon.url, version: '0.1.0' })

    const exit = await daemon.stop('SIGTERM')
    expect(exit).toEqual({ code: 0, signal: null })
    expect(daemon.logs().at(-1)).toMatchObject({ level: 'info', msg: 'stopped', stepsInFlight: 0, abandonedRequests: 0 })
    expect(existsSync(join(dataDir, 'LOCK'))).toBe(false)
    expect(existsSync(join(dataDir, 'daemon.json'))).toBe(false)
    // Released: another process opens the data directory.
    const list = await qflow(['--json', 'exec', 'list', '--data-dir', dataDir])
    expect(list.code).toBe(0)
    expect(JSON.parse(list.stdout)).toEqual([])
  })

  it('stops on SIGINT the same way', async () => {
    const daemon = await start()
    expect(await daemon.stop('SIGINT')).toEqual({ code: 0, signal: null })
    expect(daemon.logs().find((l) => l.msg.startsWith('shutting down'))).toMatchObject({ reason: 'SIGINT' })
  })

  it('logs a damaged index it moved aside and rebuilt, and serves from the rebuilt one', async () => {
    const dataDir = join(tmp(), 'node')
    const first = await start()
    const token = await adminToken(dataDir)
    expect((await api(first.url, 'POST', '/api/v1/flows', token, { ...SIMPLE_FLOW, metadata: { tags: ['kept'] } })).status).toBe(201)
    expect(await first.stop()).toEqual({ code: 0, signal: null })
    await writeFile(join(dataDir, 'index.sqlite'), Buffer.alloc(8192, 0x5a))

    const second = await start()
    const warned = second.logs().find((l) => l.msg.startsWith('the index database was damaged'))
    expect(warned).toMatchObject({ level: 'warn', reason: 'bad-header', path: join(dataDir, 'index.sqlite'), movedTo: expect.stringMatching(/index\.sqlite\.corrupt-\d+$/) })
    expect(existsSync(warned?.movedTo as string)).toBe(true)
    const found = await api(second.url, 'GET', '/api/v1/flows?tag=kept', await adminToken(dataDir))
    expect((found.body.data as { items: { id: string }[] }).items.map((i) => i.id)).toEqual([SIMPLE_FLOW.id])
  })

  it('prints the admin token once, on the first start, with how to use it; later starts do not', async () => {
    const first = await start()
    const printed = printedToken(first.stderr())
    expect(printed?.url).toBe(first.url)
    expect(printed?.token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
    const token = printed?.token as string
    // Long-lived: a year by default.
    const claims = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as { exp: number; iat: number; aud: string }
    expect(claims.exp - claims.iat).toBe(365 * 86_400)
    expect(claims.aud).toBe('qflow')
    // And how to get another without stopping the node.
    expect(first.stderr()).toContain(`qflow token issue --admin --data-dir ${join(tmp(), 'node')}`)
    expect(first.logs().find((l) => l.msg.startsWith('admin token issued'))).toMatchObject({ expiresAt: new Date(claims.exp * 1000).toISOString() })
    // The token is in no log line and no file.
    expect(JSON.stringify(first.logs())).not.toContain(token)
    const record = join(tmp(), 'node', 'admin-token.json')
    expect((await stat(record)).mode & 0o777).toBe(0o600)
    expect(await readFile(record, 'utf8')).not.toContain(token)
    expect(await first.stop()).toEqual({ code: 0, signal: null })

    const second = await start()
    expect(printedToken(second.stderr())).toBeUndefined()
    expect(second.logs().some((l) => l.msg.startsWith('admin token issued'))).toBe(false)
    expect(await second.stop()).toEqual({ code: 0, signal: null })
  })

  it('prints an admin token that authenticates against the API, request after request', async () => {
    const daemon = await start(['--admin-token-ttl', '30d'])
    const { token } = printedToken(daemon.stderr()) as { token: string }
    for (let i = 0; i < 2; i++) {
      const answer = await api(daemon.url, 'GET', '/api/v1/flows', token)
      expect(answer.body.error).toBeUndefined()
      expect(answer.status).toBe(200)
    }
  })

  it('logs at --log-level: debug shows each request, error hides the info lines', async () => {
    const verbose = await start(['--log-level', 'debug'])
    await api(verbose.url, 'GET', '/health/live', undefined)
    expect(await verbose.stop()).toEqual({ code: 0, signal: null })
    expect(verbose.logs().some((l) => l.level === 'debug')).toBe(true)

    const quiet = spawnQflow(['node', 'start', '--port', '0', '--data-dir', join(tmp(), 'quiet'), '--log-level', 'error'])
    // At error the `listening` line is not logged: the URL is on standard error (and in daemon.json).
    const url = await new Promise<string>((resolve) => {
      const look = (): void => {
        const m = /the API answers at (\S+)/.exec(quiet.stderr())
        if (m !== null) resolve(m[1] as string)
      }
      quiet.child.stderr?.on('data', () => setImmediate(look))
    })
    expect((await api(url, 'GET', '/health/live', undefined)).status).toBe(200)
    quiet.child.kill('SIGTERM')
    expect(await quiet.exited).toEqual({ code: 0, signal: null })
    expect(quiet.stdout()).toBe('')
  })

  it('refuses a second node on the same data directory (exit 1, DataDirLockedError)', async () => {
    const daemon = await start()
    const second = await qflow(['--json', 'node', 'start', '--port', '0', '--data-dir', join(tmp(), 'node')])
    expect(second.code).toBe(1)
    expect(JSON.parse(second.stderr.trim().split('\n').at(-1) as string)).toMatchObject({ error: { name: 'DataDirLockedError', pid: daemon.process.child.pid } })
  })

  it('refuses a port in use (exit 1, ListenAddressError) and leaves the data directory unlocked', async () => {
    const daemon = await start()
    const port = new URL(daemon.url).port
    const other = join(tmp(), 'other')
    const second = await qflow(['--json', 'node', 'start', '--port', port, '--data-dir', other])
    expect(second.code).toBe(1)
    expect(JSON.parse(second.stderr.trim().split('\n').at(-1) as string)).toMatchObject({ error: { name: 'ListenAddressError', code: 'EADDRINUSE', port: Number(port) } })
    expect(existsSync(join(other, 'LOCK'))).toBe(false)
  })

  it('refuses bad configuration before touching the data directory (exit 1, the key named)', async () => {
    const dataDir = join(tmp(), 'never')
    const flag = await qflow(['--json', 'node', 'start', '--port', '99999', '--data-dir', dataDir])
    expect(flag.code).toBe(1)
    expect(JSON.parse(flag.stderr)).toMatchObject({ error: { name: 'DaemonConfigError', key: 'port', source: 'flag', origin: '--port' } })

    const env = await qflow(['node', 'start', '--data-dir', dataDir], { env: { QFLOW_SHUTDOWN_TIMEOUT: 'soon' } })
    expect(env.code).toBe(1)
    expect(env.stderr).toMatch(/^qflow: Invalid configuration: shutdownTimeout \(QFLOW_SHUTDOWN_TIMEOUT\): must be a duration/)

    await writeFiles(tmp(), { 'qflow.yaml': 'port: 7070\nlog_level: debug\n' })
    const file = await qflow(['--json', 'node', 'start', '--config', join(tmp(), 'qflow.yaml'), '--data-dir', dataDir])
    expect(file.code).toBe(1)
    expect(JSON.parse(file.stderr)).toMatchObject({ error: { name: 'DaemonConfigError', key: 'log_level', source: 'file', origin: `${join(tmp(), 'qflow.yaml')}:2` } })

    const missing = await qflow(['--json', 'node', 'start', '--config', join(tmp(), 'nope.yaml'), '--data-dir', dataDir])
    expect(missing.code).toBe(1)
    expect(JSON.parse(missing.stderr)).toMatchObject({ error: { name: 'ConfigFileError', path: join(tmp(), 'nope.yaml') } })
    expect(existsSync(dataDir)).toBe(false)
  })
})

describe('pnpm start (the README\'s first command)', () => {
  const tmp = useTempDir()

  it('starts a node with nothing else to run and says where the API answers', async () => {
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    const script = manifest.scripts.start as string
    // The build, then the command this test runs (the defaults, steered to a free port and a temp dir by env).
    const m = /^turbo run build --filter=@qflow\/node\.\.\. .*&& node ((?:--[\w-]+=\S+ )*)apps\/node\/dist\/cli\.js (node start)$/.exec(script)
    expect(m).not.toBeNull()
    const nodeArgs = (m?.[1] ?? '').trim().split(' ').filter((a) => a !== '')
    expect(nodeArgs).toEqual(['--max-semi-space-size=32'])
    const live = spawnQflow((m?.[2] ?? '').split(' '), { QFLOW_PORT: '0', QFLOW_DATA_DIR: tmp() }, nodeArgs)
    try {
      const url = await new Promise<string>((resolve, reject) => {
        live.child.stderr?.on('data', () => {
          const m = /the API answers at (\S+)/.exec(live.stderr())
          if (m !== null) resolve(m[1] as string)
        })
        void live.exited.then(() => reject(new Error(live.stderr())))
      })
      expect(live.stderr()).toMatch(/qflow login --api http:\/\/127\.0\.0\.1:\d+ --token \S+/)
      expect((await api(url, 'GET', '/health/ready', undefined)).status).toBe(200)
    } finally {
      live.child.kill('SIGINT')
    }
    expect(await live.exited).toEqual({ code: 0, signal: null })
  })
})

describe('qflow node status', () => {
  const tmp = useTempDir()

  it('reports a running node as ready (exit 0), found through its data directory or --api', async () => {
    const dataDir = join(tmp(), 'node')
    const daemon = await startDaemon(['--data-dir', dataDir])
    try {
      const local = await qflow(['--json', 'node', 'status', '--data-dir', dataDir])
      expect(local.code).toBe(0)
      expect(JSON.parse(local.stdout)).toEqual({
        api: daemon.url,
        from: 'daemon.json',
        ready: true,
        status: 'ready',
        checks: { node: 'ok', api: 'ok' },
        pid: daemon.process.child.pid,
        version: '0.1.0',
        startedAt: expect.any(String)
      })
      const remote = await qflow(['node', 'status', '--api', daemon.url])
      expect(remote.code).toBe(0)
      expect(remote.stdout).toContain(`node    ${daemon.url} (from flag)`)
      expect(remote.stdout).toContain('status  ready')
      const fromEnv = await qflow(['--json', 'node', 'status'], { env: { QFLOW_API: daemon.url, XDG_CONFIG_HOME: tmp() } })
      expect(JSON.parse(fromEnv.stdout)).toMatchObject({ api: daemon.url, from: 'env', ready: true })
    } finally {
      expect(await daemon.stop()).toEqual({ code: 0, signal: null })
    }
    // Nothing answers there any more: exit 6 (unreachable).
    const gone = await qflow(['--json', 'node', 'status', '--api', daemon.url])
    expect(gone.code).toBe(6)
    expect(JSON.parse(gone.stderr)).toMatchObject({ error: { name: 'NodeUnreachableError' } })
  })

  it('exits 6 when no node runs on the data directory (asks its configured address)', async () => {
    await writeFiles(tmp(), { 'node/config.yaml': 'port: 1\n' })
    const result = await qflow(['--json', 'node', 'status', '--data-dir', join(tmp(), 'node'), '--timeout', '2s'])
    expect(result.code).toBe(6)
    expect(JSON.parse(result.stderr)).toMatchObject({ error: { name: 'NodeUnreachableError' } })
  })
})

describe('qflow node config', () => {
  const tmp = useTempDir()

  it('prints the effective configuration with flags over env over file over defaults, and where each came from', async () => {
    await writeFiles(tmp(), { 'qflow.yaml': 'port: 1111\nhost: 0.0.0.0\nlogLevel: warn\nsubnet: lab\n' })
    const result = await qflow(['--json', 'node', 'config', '--config', join(tmp(), 'qflow.yaml'), '--port', '3333'], {
      env: { QFLOW_PORT: '2222', QFLOW_LOG_LEVEL: 'debug' },
      cwd: tmp()
    })
    expect(result.code).toBe(0)
    const shown = JSON.parse(result.stdout) as { file: string; config: Record<string, unknown>; sources: Record<string, { source: string; origin: string }> }
    expect(shown.file).toBe(join(tmp(), 'qflow.yaml'))
    expect(shown.config).toEqual({
      dataDir: join(tmp(), '.qflow'),
      host: '0.0.0.0',
      port: 3333,
      logLevel: 'debug',
      shutdownTimeout: 10_000,
      durability: 'fsync',
      passphrase: null,
      allowPrivateNetworks: [],
      adminTokenTtl: 365 * 86_400_000,
      defaultStepTimeout: null,
      subnet: 'lab',
      bodyLimit: 1_048_576,
      requestTimeout: 60_000,
      handlerTimeout: 30_000,
      webhookBodyLimit: 262_144,
      webhookTolerance: 300_000,
      webhookSourceRate: 50,
      webhookSourceBurst: 100,
      webhookTenantRate: 500,
      webhookTenantBurst: 1000,
      webhookRefusalRate: 2,
      webhookRefusalBurst: 20,
      webhookWaitTimeout: 25_000,
      executionMaxAge: 14 * 86_400_000,
      executionMaxCount: 100_000,
      pruneInterval: 300_000
    })
    expect(shown.sources.port).toEqual({ source: 'flag', origin: '--port' })
    expect(shown.sources.logLevel).toEqual({ source: 'env', origin: 'QFLOW_LOG_LEVEL' })
    expect(shown.sources.host).toEqual({ source: 'file', origin: `${join(tmp(), 'qflow.yaml')}:2` })
    expect(shown.sources.durability).toEqual({ source: 'default', origin: 'default' })
  })

  it('redacts secrets, in text and JSON', async () => {
    const secret = 'tr0ub4dor&3-not-to-be-printed'
    const json = await qflow(['--json', 'node', 'config'], { env: { QFLOW_PASSPHRASE: secret }, cwd: tmp() })
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ config: { passphrase: '[redacted]' }, sources: { passphrase: { source: 'env', origin: 'QFLOW_PASSPHRASE' } } })
    const text = await qflow(['node', 'config'], { env: { QFLOW_PASSPHRASE: secret }, cwd: tmp() })
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/^passphrase\s+\[redacted\]\s+env \(QFLOW_PASSPHRASE\)$/m)
    expect(text.stdout).toMatch(/^port\s+7070\s+default$/m)
    expect(text.stdout).toMatch(/^shutdownTimeout\s+10s\s+default$/m)
    expect(text.stdout).toMatch(/^bodyLimit\s+1MiB\s+default$/m)
    expect(text.stdout).toMatch(/^webhookTolerance\s+5m\s+default$/m)
    expect(`${json.stdout}${json.stderr}${text.stdout}${text.stderr}`).not.toContain(secret)
  })

  it('reads <data-dir>/config.yaml and reports a bad value in it by key and line (exit 1)', async () => {
    await writeFiles(tmp(), { 'node/config.yaml': '# node settings\nport: 8181\nshutdownTimeout: 30s\n' })
    const good = await qflow(['--json', 'node', 'config', '--data-dir', join(tmp(), 'node')])
    expect(JSON.parse(good.stdout)).toMatchObject({ file: join(tmp(), 'node/config.yaml'), config: { port: 8181, shutdownTimeout: 30_000 } })
    await writeFiles(tmp(), { 'node/config.yaml': '# node settings\nport: 8181\nshutdownTimeout: 30 fortnights\n' })
    const bad = await qflow(['--json', 'node', 'config', '--data-dir', join(tmp(), 'node')])
    expect(bad.code).toBe(1)
    expect(JSON.parse(bad.stderr)).toMatchObject({ error: { name: 'DaemonConfigError', key: 'shutdownTimeout', source: 'file', origin: `${join(tmp(), 'node/config.yaml')}:3` } })
  })
})

describe('qflow node --help', () => {
  it.each(['node', 'node start', 'node status', 'node config'])('%s --help prints usage with examples', async (command) => {
    const result = await qflow([...command.split(' '), '--help'])
    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(/^Usage: qflow node/)
    expect(result.stdout).toContain('Examples:\n  $ qflow node ')
    expect(result.stdout).toMatch(/Global Options:[\s\S]*--json/)
  })

  it('documents every configuration key with its variable and flag', async () => {
    const { CONFIG_KEYS } = await import('../../src/daemon/config.js')
    const help = (await qflow(['node', 'start', '--help'])).stdout
    for (const spec of CONFIG_KEYS) {
      expect(help).toContain(spec.env)
      if (spec.flag !== undefined) expect(help).toContain(spec.flag)
    }
    expect(help).toContain('SIGTERM')
    expect(help).toContain('--shutdown-timeout')
  })
})
