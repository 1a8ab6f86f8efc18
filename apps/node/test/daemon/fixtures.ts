import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A request the {@link heldServer} received. */
export interface HeldRequest {
  readonly path: string
  readonly idempotencyKey: string | undefined
}

/**
 * A local HTTP server on 127.0.0.1 whose answers wait until the test releases them: a step that
 * calls it stays in flight exactly as long as the test wants. Answers `{ path, n }` (`n`: the
 * request's number, from 1).
 */
export interface HeldServer {
  readonly url: string
  /** Every request received, in order. */
  readonly requests: HeldRequest[]
  /** Resolves once `count` requests have arrived in total. */
  received(count: number): Promise<void>
  /** Answers every waiting request, and from now on answers at once. */
  release(): void
  /** Makes requests wait again (after a {@link release}). */
  hold(): void
  close(): Promise<void>
}

/** Starts a {@link HeldServer} on an ephemeral port, holding. */
export async function heldServer(): Promise<HeldServer> {
  const requests: HeldRequest[] = []
  const waiting: (() => void)[] = []
  const watchers: { count: number; resolve: () => void }[] = []
  let holding = true
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    req.on('end', () => {
      const key = req.headers['idempotency-key']
      requests.push({ path: req.url ?? '/', idempotencyKey: typeof key === 'string' ? key : undefined })
      const n = requests.length
      const answer = () => {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ path: req.url, n }))
      }
      if (holding) waiting.push(answer)
      else answer()
      for (const w of watchers.splice(0)) {
        if (requests.length >= w.count) w.resolve()
        else watchers.push(w)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    received: (count) =>
      requests.length >= count
        ? Promise.resolve()
        : new Promise((resolve) => {
            watchers.push({ count, resolve })
          }),
    release() {
      holding = false
      for (const answer of waiting.splice(0)) answer()
    },
    hold() {
      holding = true
    },
    close: () =>
      new Promise((resolve) => {
        holding = false
        for (const answer of waiting.splice(0)) answer()
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** An owner for the test flows (a real ed25519 did:key). */
export const OWNER = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'

/**
 * A flow that calls `url/<input.tag>` (http.request, the step a shutdown waits for), then waits
 * `delayMs` (a durable delay, which a shutdown does not wait for), then answers
 * `{ tag, doubled, served }`.
 */
export function callThenDelayFlow(url: string, delayMs: number, id = 'call-then-delay'): Record<string, unknown> {
  return {
    id,
    name: 'call, then delay',
    version: '1.0.0',
    owner: OWNER,
    steps: [
      { id: 'call', type: 'task', action: 'http.request', params: { url: `{{ "${url}/" & input.tag }}`, method: 'POST', body: { n: '{{ input.n }}' } } },
      { id: 'pause', type: 'task', action: 'delay', params: { ms: delayMs } },
      {
        id: 'out',
        type: 'task',
        action: 'data.transform',
        params: { expression: '{ "tag": input.tag, "doubled": input.n * 2, "served": steps.call.output.body.path }' }
      }
    ]
  }
}
