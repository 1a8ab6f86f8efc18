import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { useTempDir } from '../fixtures/cli.js'
import { adminToken, type RunningDaemon, startDaemon } from './daemon-fixture.js'

const ABANDONED = 'requests still in progress at the shutdown bound: their connections are closed'

/** Opens the event WebSocket, subscribes, and resolves once the node confirmed the subscription. */
async function subscribed(url: string, token: string): Promise<{ socket: WebSocket; closed: Promise<number> }> {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/ws`, { headers: { authorization: `Bearer ${token}` } })
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.once('open', () => {
      socket.on('message', (data) => {
        if ((JSON.parse(String(data)) as { type: string }).type === 'subscribed') resolve()
      })
      socket.send(JSON.stringify({ type: 'subscribe', id: 'all', filter: {} }))
    })
  })
  return { socket, closed }
}

describe('shutdown after WebSocket use', () => {
  const tmp = useTempDir()
  const running: RunningDaemon[] = []

  afterEach(async () => {
    for (const daemon of running.splice(0)) if (daemon.process.child.exitCode === null) await daemon.stop('SIGKILL')
  })

  async function start(dataDir: string): Promise<RunningDaemon> {
    const daemon = await startDaemon(['--data-dir', dataDir, '--shutdown-timeout', '20s'])
    running.push(daemon)
    return daemon
  }

  it('a WebSocket that connected and disconnected is not an active request: SIGTERM abandons nothing', async () => {
    const dataDir = join(tmp(), 'data')
    const daemon = await start(dataDir)
    const { socket, closed } = await subscribed(daemon.url, await adminToken(dataDir))
    socket.close(1000)
    expect(await closed).toBe(1000)

    expect(await daemon.stop('SIGTERM')).toEqual({ code: 0, signal: null })
    const logs = daemon.logs()
    expect(logs.find((l) => l.msg === 'shutting down: new requests answer 503, waiting for in-flight requests and steps')).toMatchObject({ activeRequests: 0 })
    expect(logs.some((l) => l.msg === ABANDONED)).toBe(false)
    expect(logs.find((l) => l.msg === 'stopped')).toMatchObject({ abandonedRequests: 0 })
  })

  it('a WebSocket still open at SIGTERM is closed as going away, and is not waited for as a request', async () => {
    const dataDir = join(tmp(), 'data')
    const daemon = await start(dataDir)
    const { closed } = await subscribed(daemon.url, await adminToken(dataDir))

    expect(await daemon.stop('SIGTERM')).toEqual({ code: 0, signal: null })
    expect(await closed).toBe(1001)
    const logs = daemon.logs()
    expect(logs.find((l) => l.msg === 'shutting down: new requests answer 503, waiting for in-flight requests and steps')).toMatchObject({ activeRequests: 0 })
    expect(logs.some((l) => l.msg === ABANDONED)).toBe(false)
    expect(logs.find((l) => l.msg === 'stopped')).toMatchObject({ abandonedRequests: 0 })
  })

  it('a refused upgrade (no token) is answered and uncounted', async () => {
    const dataDir = join(tmp(), 'data')
    const daemon = await start(dataDir)
    const socket = new WebSocket(`${daemon.url.replace(/^http/, 'ws')}/api/v1/ws`)
    socket.on('error', () => {})
    const status = await new Promise<number>((resolve) =>
      socket.once('unexpected-response', (request, response) => {
        resolve(response.statusCode ?? 0)
        request.destroy()
      })
    )
    expect(status).toBe(401)

    expect(await daemon.stop('SIGTERM')).toEqual({ code: 0, signal: null })
    const logs = daemon.logs()
    expect(logs.some((l) => l.msg === ABANDONED)).toBe(false)
    expect(logs.find((l) => l.msg === 'stopped')).toMatchObject({ abandonedRequests: 0 })
  })
})
