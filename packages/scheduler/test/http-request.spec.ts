import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ActionContext, httpRequestAction } from '../src/index.js'

let server: Server
let base: string
const seen: { url: string; method: string; headers: IncomingHttpHeaders; body: string }[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => {
      body += c
    })
    req.on('end', () => {
      seen.push({ url: req.url ?? '', method: req.method ?? '', headers: req.headers, body })
      const url = new URL(req.url ?? '/', 'http://x')
      switch (url.pathname) {
        case '/json':
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: [1, 2], q: url.searchParams.get('q') }))
          return
        case '/echo':
          res.writeHead(201, { 'content-type': 'application/json; charset=utf-8' }).end(body)
          return
        case '/fail':
          res.writeHead(503, { 'content-type': 'text/plain' }).end('busy')
          return
        case '/missing':
          res.writeHead(404).end('nope')
          return
        case '/big':
          res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(4096))
          return
        case '/slow':
          setTimeout(() => res.writeHead(200).end('late'), 2_000).unref()
          return
        case '/to-private':
          res.writeHead(302, { location: 'http://10.1.2.3/internal' }).end()
          return
        case '/to-json':
          res.writeHead(301, { location: `${base}/json?q=redirected` }).end()
          return
        default:
          res.writeHead(500).end()
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

function context(overrides: Partial<ActionContext> = {}): ActionContext {
  return {
    executionId: 'e1',
    stepId: 's1',
    attempt: 1,
    idempotencyKey: 'e1/s1/1',
    signal: new AbortController().signal,
    actor: 'did:key:z6Mk',
    scope: {},
    log: () => {},
    ...overrides
  }
}

const loopbackAllowed = httpRequestAction({ allowPrivateNetworks: ['127.0.0.0/8'], maxResponseBytes: 1024 })

async function errorOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise
  } catch (err) {
    return err as Error & Record<string, unknown>
  }
  throw new Error('expected a failure')
}

describe('http.request', () => {
  it('GETs JSON with query parameters', async () => {
    const out = await loopbackAllowed.execute({ url: `${base}/json`, query: { q: 'cats' } }, context())
    expect(out.status).toBe(200)
    expect(out.body).toEqual({ items: [1, 2], q: 'cats' })
  })

  it('POSTs a JSON body with the step idempotency key', async () => {
    const out = await loopbackAllowed.execute({ url: `${base}/echo`, method: 'post', body: { a: 1 } }, context({ idempotencyKey: 'exec-9/s/2' }))
    expect(out).toMatchObject({ status: 201, body: { a: 1 } })
    const last = seen.at(-1)
    expect(last?.headers['idempotency-key']).toBe('exec-9/s/2')
    expect(last?.headers['content-type']).toBe('application/json')
  })

  it('fails on error statuses, retryable only for 5xx and 429', async () => {
    const busy = await errorOf(loopbackAllowed.execute({ url: `${base}/fail` }, context()))
    expect([busy.name, busy.status, busy.retryable, busy.body]).toEqual(['HttpStatusError', 503, true, 'busy'])
    const missing = await errorOf(loopbackAllowed.execute({ url: `${base}/missing` }, context()))
    expect([missing.name, missing.status, missing.retryable]).toEqual(['HttpStatusError', 404, false])
    const tolerated = await loopbackAllowed.execute({ url: `${base}/missing`, expectStatus: [200, 404] }, context())
    expect(tolerated.status).toBe(404)
  })

  it('stops oversized responses and slow servers', async () => {
    const big = await errorOf(loopbackAllowed.execute({ url: `${base}/big` }, context()))
    expect([big.name, big.limit]).toEqual(['HttpResponseTooLargeError', 1024])
    const slow = await errorOf(loopbackAllowed.execute({ url: `${base}/slow`, timeoutMs: 100 }, context()))
    expect([slow.name, slow.code, slow.retryable]).toEqual(['HttpRequestError', 'ETIMEDOUT', true])
    const controller = new AbortController()
    const pending = loopbackAllowed.execute({ url: `${base}/slow` }, context({ signal: controller.signal }))
    controller.abort()
    expect((await errorOf(pending)).code).toBe('EABORTED')
  })

  it('follows redirects but refuses a hop to a private address', async () => {
    const out = await loopbackAllowed.execute({ url: `${base}/to-json` }, context())
    expect(out.body).toEqual({ items: [1, 2], q: 'redirected' })
    const hop = await errorOf(loopbackAllowed.execute({ url: `${base}/to-private` }, context()))
    expect([hop.name, hop.address]).toEqual(['PrivateAddressError', '10.1.2.3'])
  })

  it('refuses loopback, private and link-local targets by default, by IP or by name', async () => {
    const strict = httpRequestAction()
    for (const url of [`${base}/json`, 'http://169.254.169.254/latest/meta-data', 'http://[::1]:9/', 'http://[::ffff:127.0.0.1]:9/', 'http://192.168.1.1/']) {
      const err = await errorOf(strict.execute({ url }, context()))
      expect(err.name, url).toBe('PrivateAddressError')
    }
    const port = (server.address() as AddressInfo).port
    const byName = await errorOf(strict.execute({ url: `http://localhost:${port}/json` }, context()))
    expect([byName.name, byName.host]).toEqual(['PrivateAddressError', 'localhost'])
    const before = seen.length
    await errorOf(strict.execute({ url: `http://localhost:${port}/json` }, context()))
    expect(seen.length).toBe(before)
  })

  it('rejects bad params with a typed error', async () => {
    expect((await errorOf(loopbackAllowed.execute({ url: 'not a url' }, context()))).name).toBe('InvalidActionParamsError')
    expect((await errorOf(loopbackAllowed.execute({ url: 'file:///etc/passwd' }, context()))).name).toBe('InvalidActionParamsError')
    expect(() => httpRequestAction({ allowPrivateNetworks: ['nonsense'] })).toThrow(/not an IP or CIDR/)
  })
})
