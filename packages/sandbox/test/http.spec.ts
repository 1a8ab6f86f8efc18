import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createIdentity } from '@qflow/adapters-squid'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type CallMetrics, type Sandbox, type SandboxInit, sandbox, type TemplateManifest } from '../src/index.js'
import { allowListOf, type BuiltTemplate, builtTemplate, text } from './fixtures/templates.js'

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage['headers']
  readonly body: string
}

/** A real HTTP server on 127.0.0.1 that records every request it gets. */
async function recordingServer(): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      body += chunk
    })
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      const path = req.url ?? '/'
      if (path === '/hello') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('hello, Zoë ✓')
      } else if (path === '/echo') {
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, body }))
      } else if (path === '/big') {
        res.writeHead(200).end('x'.repeat(5000))
      } else if (path === '/hang') {
        // never answers
      } else if (path.startsWith('/to-localhost')) {
        const port = (server.address() as AddressInfo).port
        res.writeHead(302, { location: `http://localhost:${port}/hello` }).end()
      } else if (path === '/to-hello') {
        res.writeHead(302, { location: '/hello' }).end()
      } else {
        res.writeHead(404).end('no such thing')
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port, seen }
}

/** A started sandbox with http-fetch (allowed to reach `hosts`) and echo approved and installed. */
async function open(hosts: readonly string[], init: SandboxInit = {}): Promise<Sandbox> {
  const dao = createIdentity()
  const fetch = await builtTemplate('http-fetch')
  const echo = await builtTemplate('echo')
  const local: BuiltTemplate = { bytes: fetch.bytes, manifest: { ...fetch.manifest, allowedHosts: hosts } as TemplateManifest }
  const box = sandbox({ trustedIssuers: [dao.did], poolSize: 1, ...init })({ allowList: await allowListOf(dao, [local, echo]) })
  await box.start()
  await box.install(local.manifest, local.bytes)
  await box.install(echo.manifest, echo.bytes)
  return box
}

describe('outbound HTTP from a template', () => {
  let server: Awaited<ReturnType<typeof recordingServer>>
  let box: Sandbox | undefined
  beforeAll(async () => {
    server = await recordingServer()
  })
  afterEach(async () => {
    await box?.stop()
    box = undefined
    server.seen.length = 0
  })
  afterAll(async () => {
    server.server.closeAllConnections()
    await new Promise((resolve) => server.server.close(resolve))
  })
  const url = (path: string): string => `http://127.0.0.1:${server.port}${path}`

  it('reaches an allowed host on an allowed private network: status and body, UTF-8 intact', async () => {
    box = await open(['127.0.0.1'], { http: { allowPrivateNetworks: ['127.0.0.0/8'] } })
    const { output } = await box.run('http-fetch@1.0.0', 'fetch', { url: url('/hello') }, { idempotencyKey: 'exec-1:step-a:1' })
    expect(output).toEqual({ status: 200, body: 'hello, Zoë ✓' })
    expect(server.seen).toHaveLength(1)
    expect(server.seen[0]).toMatchObject({ method: 'GET', url: '/hello' })
    expect(server.seen[0]?.headers['idempotency-key']).toBe('exec-1:step-a:1:http:1')
  })

  it('sends the method, headers and body, and hands back non-2xx statuses to the template', async () => {
    box = await open(['127.0.0.1'], { http: { allowPrivateNetworks: ['127.0.0.1'] } })
    const posted = await box.run('http-fetch@1.0.0', 'fetch', { url: url('/echo'), method: 'post', headers: { 'x-trace': 't-1' }, body: '{"n":1}' })
    expect(posted.output).toEqual({ status: 201, body: JSON.stringify({ method: 'POST', body: '{"n":1}' }) })
    expect(server.seen[0]?.headers['x-trace']).toBe('t-1')
    const missing = await box.run('http-fetch@1.0.0', 'fetch', { url: url('/nope') })
    expect(missing.output).toEqual({ status: 404, body: 'no such thing' })
  })

  it('follows a redirect within the allowed hosts', async () => {
    box = await open(['127.0.0.1'], { http: { allowPrivateNetworks: ['127.0.0.0/8'] } })
    const { output } = await box.run('http-fetch@1.0.0', 'fetch', { url: url('/to-hello') })
    expect(output).toEqual({ status: 200, body: 'hello, Zoë ✓' })
    expect(server.seen.map((s) => s.url)).toEqual(['/to-hello', '/hello'])
  })

  it('refuses a host the manifest does not allow, before anything is sent', async () => {
    box = await open(['127.0.0.1'], { http: { allowPrivateNetworks: ['127.0.0.0/8'] } })
    const calls: CallMetrics[] = []
    box.onCall((m) => calls.push(m))
    const err = await box.run('http-fetch@1.0.0', 'fetch', { url: `http://localhost:${server.port}/hello` }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'SandboxHostNotAllowedError', host: 'localhost' })
    expect(server.seen).toHaveLength(0)
    expect(calls.at(-1)?.outcome).toBe('SandboxHostNotAllowedError')
    // The template and the sandbox keep serving.
    expect((await box.run('http-fetch@1.0.0', 'fetch', { url: url('/hello') })).output).toMatchObject({ status: 200 })
    expect(text((await box.call('echo@1.0.0', 'echo', 'ok')).output)).toBe('ok')
  })

  it('refuses a redirect to a host the manifest does not allow', async () => {
    box = await open(['127.0.0.1'], { http: { allowPrivateNetworks: ['127.0.0.0/8'] } })
    await expect(box.run('http-fetch@1.0.0', 'fetch', { url: url('/to-localhost') })).rejects.toMatchObject({ name: 'SandboxHostNotAllowedError', host: 'localhost' })
    expect(server.seen.map((s) => s.url)).toEqual(['/to-localhost'])
  })

  it('an allowed host on a private network the node does not allow is refused by the http.request guard', async () => {
    box = await open(['127.0.0.1', 'localhost'])
    await expect(box.run('http-fetch@1.0.0', 'fetch', { url: url('/hello') })).rejects.toMatchObject({ name: 'PrivateAddressError', address: '127.0.0.1' })
    // By name too: the guard checks the resolved address at connect time.
    await expect(box.run('http-fetch@1.0.0', 'fetch', { url: `http://localhost:${server.port}/hello` })).rejects.toMatchObject({ name: 'PrivateAddressError' })
    expect(server.seen).toHaveLength(0)
  })

  it('bounds the response size and the requests per call', async () => {
    box = await open(['127.0.0.1'], { http: { allowPrivateNetworks: ['127.0.0.0/8'], maxResponseBytes: 1000 } })
    await expect(box.run('http-fetch@1.0.0', 'fetch', { url: url('/big') })).rejects.toMatchObject({ name: 'HttpResponseTooLargeError', limit: 1000 })
    await box.stop()
    box = await open(['127.0.0.1'], { http: { allowPrivateNetworks: ['127.0.0.0/8'], maxRequestsPerCall: 0 } })
    const err = await box.run('http-fetch@1.0.0', 'fetch', { url: url('/hello') }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'SandboxHttpError' })
    expect((err as Error).message).toMatch(/more than 0 HTTP requests/)
  })

  it('a request that outlives the call is stopped at the call timeout, and the sandbox keeps serving', async () => {
    box = await open(['127.0.0.1'], { http: { allowPrivateNetworks: ['127.0.0.0/8'] } })
    await expect(box.run('http-fetch@1.0.0', 'fetch', { url: url('/hang') }, { timeoutMs: 300 })).rejects.toMatchObject({ name: 'SandboxTimeoutError', timeoutMs: 300 })
    expect((await box.run('http-fetch@1.0.0', 'fetch', { url: url('/hello') })).output).toMatchObject({ status: 200 })
  })

  it('a template importing http_request installs only if its manifest allows a host, and the allow-list approves it', async () => {
    const dao = createIdentity()
    const fetch = await builtTemplate('http-fetch')
    const noHosts = { ...fetch.manifest, allowedHosts: [] }
    const b = sandbox({ trustedIssuers: [dao.did] })({ allowList: await allowListOf(dao, [{ bytes: fetch.bytes, manifest: noHosts }]) })
    box = b
    await b.start()
    await expect(b.install(noHosts, fetch.bytes)).rejects.toMatchObject({ name: 'SandboxImportNotGrantedError', import: 'extism:host/env.http_request' })
    // Approved for example.org only: a manifest asking for 127.0.0.1 is refused.
    await b.updateAllowList(await allowListOf(dao, [{ bytes: fetch.bytes, manifest: { ...fetch.manifest, allowedHosts: ['example.org'] } }]))
    await expect(b.install({ ...fetch.manifest, allowedHosts: ['127.0.0.1'] }, fetch.bytes)).rejects.toMatchObject({ name: 'TemplateNotApprovedError' })
    // A bare wildcard is no host.
    await expect(b.install({ ...fetch.manifest, allowedHosts: ['*'] }, fetch.bytes)).rejects.toMatchObject({ name: 'InvalidManifestError', pointer: '/allowedHosts/0' })
  })
})
