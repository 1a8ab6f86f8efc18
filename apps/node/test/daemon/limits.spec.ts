import { join } from 'node:path'
import { generateStandardWebhooksSecret } from '@qflow/webhooks'
import { afterEach, describe, expect, it } from 'vitest'
import { useTempDir, writeFiles } from '../fixtures/cli.js'
import { standardHeaders, webhookFlow } from '../webhooks/fixtures.js'
import { adminToken, api, type RunningDaemon, startDaemon } from './daemon-fixture.js'

describe('qflow node start: the server and webhook limits of the configuration reach the API', () => {
  const tmp = useTempDir()
  const running: RunningDaemon[] = []

  afterEach(async () => {
    for (const daemon of running.splice(0)) if (daemon.process.child.exitCode === null) await daemon.stop('SIGKILL')
  })

  it('body limits, the webhook timestamp tolerance and the per-source rate limit, from the file, the environment and flags', async () => {
    const dataDir = join(tmp(), 'data')
    await writeFiles(tmp(), { 'limits.yaml': 'bodyLimit: 4KiB\nwebhookTolerance: 30s\n' })
    const daemon = await startDaemon(['--data-dir', dataDir, '--config', join(tmp(), 'limits.yaml'), '--webhook-source-burst', '2'], {
      QFLOW_WEBHOOK_BODY_LIMIT: '1KiB',
      QFLOW_WEBHOOK_SOURCE_RATE: '0.01'
    })
    running.push(daemon)
    const token = await adminToken(dataDir)

    // bodyLimit: a 6 KiB flow document is refused before it is read; a small one is stored.
    const big = { id: 'big', name: 'big', version: '1.0.0', owner: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK', description: 'x'.repeat(6 * 1024), steps: [] }
    const tooBig = await api(daemon.url, 'POST', '/api/v1/flows', token, big)
    expect([tooBig.status, tooBig.body.error?.code]).toEqual([413, 'PAYLOAD_TOO_LARGE'])

    const secret = generateStandardWebhooksSecret()
    expect((await api(daemon.url, 'PUT', '/api/v1/secrets/limits-secret', token, { value: secret })).status).toBe(201)
    const flow = webhookFlow('limited', daemon.logs().find((l) => l.msg === 'node started')?.adminDid as string, [
      { id: 'hook', type: 'webhook', auth: { scheme: 'standard-webhooks', secretRef: 'limits-secret' } }
    ], '{ "n": steps.receive.output.n }')
    expect((await api(daemon.url, 'POST', '/api/v1/flows', token, flow)).status).toBe(201)

    const send = async (body: string, options: { timestamp?: number } = {}) => {
      const response = await fetch(`${daemon.url}/webhooks/limited/hook`, { method: 'POST', headers: standardHeaders(secret, body, options), body })
      return { status: response.status, body: (await response.json()) as { error?: { code: string; details?: Record<string, unknown> } } }
    }
    // webhookBodyLimit (environment): 2 KiB is over 1 KiB.
    const oversized = await send(JSON.stringify({ n: 0, pad: 'y'.repeat(2048) }))
    expect([oversized.status, oversized.body.error?.code]).toEqual([413, 'PAYLOAD_TOO_LARGE'])
    // webhookTolerance (file): a timestamp a minute old is outside 30 s (the default would take 5 minutes).
    const stale = await send(JSON.stringify({ n: 1 }), { timestamp: Math.floor(Date.now() / 1000) - 60 })
    expect([stale.status, stale.body.error?.details?.reason]).toEqual([401, 'stale-timestamp'])
    // webhookSourceBurst (flag) 2 and webhookSourceRate (environment) 0.01/s: the third is refused.
    const statuses = []
    for (const n of [2, 3, 4]) statuses.push((await send(JSON.stringify({ n }))).status)
    expect(statuses).toEqual([202, 202, 429])

    const config = daemon.logs().find((l) => l.msg === 'configuration file read')
    expect(config).toMatchObject({ file: join(tmp(), 'limits.yaml') })
  })
})
