import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import type { Measurement } from './harness.js'

/**
 * `GET /api/v1/executions/:id` against a started node listening on 127.0.0.1: the node runs in a
 * child process (so the load generator does not share its event loop), autocannon drives it with
 * 50 connections reusing one admin bearer token. Measured for a finished execution and for a live
 * (paused) one. Every answer must be 200 with the execution's state.
 */

const CONNECTIONS = 50
const DURATION_S = 10

/** The child (fixtures/api-state-server.mjs): a node and its API, one finished and one paused execution. */
const SERVER = fileURLToPath(new URL('./fixtures/api-state-server.mjs', import.meta.url))

interface Ready {
  url: string
  token: string
  finished: string
  finishedStatus: string
  live: string
}

async function load(name: string, url: string, token: string, expectStatus: string): Promise<Measurement> {
  let wrongBody = 0
  let checked = 0
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION_S,
    headers: { authorization: `Bearer ${token}` },
    // Check a sample of the answers' bodies (every 100th) for the expected state.
    setupClient: (client) => {
      let n = 0
      client.on('body', (body: Buffer) => {
        if (n++ % 100 !== 0) return
        checked++
        const parsed = JSON.parse(body.toString('utf8')) as { success?: boolean; data?: { status?: string } }
        if (parsed.success !== true || parsed.data?.status !== expectStatus) wrongBody++
      })
    }
  })
  return {
    name,
    samples: result.requests.total,
    medianUs: result.latency.p50 * 1000,
    p99Us: result.latency.p99 * 1000,
    opsPerSec: result.requests.average,
    extra: {
      reqPerSec: result.requests.average,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      maxMs: result.latency.max,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      bodiesChecked: checked,
      wrongBodies: wrongBody,
      connections: CONNECTIONS,
      durationS: DURATION_S,
      pass: result.non2xx === 0 && result.errors === 0 && wrongBody === 0 ? 'yes' : 'no'
    }
  }
}

export default async function bench(): Promise<Measurement[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'qflow-bench-api-'))
  const child = spawn(process.execPath, [SERVER], { env: { ...process.env, DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const ready = await new Promise<Ready>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the node exited (${code}) before it was ready`)))
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.startsWith('READY ')) resolve(JSON.parse(line.slice(6)) as Ready)
        else process.stderr.write(`${line}\n`)
      })
    })
    if (ready.finishedStatus !== 'completed') throw new Error(`the bench execution ended ${ready.finishedStatus}`)
    const finished = await load('GET /api/v1/executions/:id (finished execution)', `${ready.url}/api/v1/executions/${ready.finished}`, ready.token, 'completed')
    const live = await load('GET /api/v1/executions/:id (live, paused execution)', `${ready.url}/api/v1/executions/${ready.live}`, ready.token, 'paused')
    return [finished, live]
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
    await rm(dataDir, { recursive: true, force: true })
  }
}
