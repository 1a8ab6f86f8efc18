import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { crashFlow, EFFECT_STEPS, expectedOutput } from './fixtures/crash-flow.js'
import { mulberry32 } from './fixtures/prng.js'
import { assertBuilt, type EffectServer, effectServer, killAll, qflow, spawned, spawnQflow } from './fixtures/qflow.js'

/** The PRNG seed: the same seed, the same kill points. */
const SEED = 0x9f1a_2026
/** Kills to reach: executions are added (one after another, in one data directory) until then. */
const KILL_TARGET = 60
/** Most executions the test starts, whatever the kill count. */
const MAX_EXECUTIONS = 30
/** The input `n` of execution `i`: even and odd, small and big results. */
const inputOf = (i: number): number => 1 + ((i * 7) % 61)
/** Rounds of (killed run, maybe-killed resume) per execution before it is let finish. */
const KILL_ROUNDS = 8
/** Kill delays after spawn, ms: from the end of start-up to well past a whole run. */
const KILL_DELAY_MIN_MS = 250
const KILL_DELAY_SPAN_MS = 600
/** Probability a kill waits for a side effect to land rather than for a delay. */
const EFFECT_KILL_P = 0.6
/**
 * How long a kill waiting for a side effect waits at most (a run past its last effect lands none).
 * Generous: a loaded machine takes a second or more from spawn to the first effect.
 */
const EFFECT_KILL_FALLBACK_MS = 2_500
/** Probability a `qflow resume` is killed too. */
const RESUME_KILL_P = 0.6

interface LogEntryJson {
  seq: number
  kind: string
  stepId?: string
  attempt?: number
}

describe('crash safety: qflow run killed with SIGKILL and resumed, over and over', () => {
  let dir = ''
  let server: EffectServer
  const env = { QFLOW_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8' }

  beforeAll(async () => {
    assertBuilt()
    dir = await mkdtemp(join(tmpdir(), 'qflow-crash-'))
    server = await effectServer()
  })

  afterAll(async () => {
    await killAll()
    await server?.close()
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it('finishes every execution with the right output, each step committed once, side effects keyed, logs intact', async () => {
    const rng = mulberry32(SEED)
    const data = join(dir, 'data')
    const flowFile = join(dir, 'crash-flow.json')
    await writeFile(flowFile, JSON.stringify(crashFlow(server.url)))
    const began = Date.now()
    let kills = 0
    let effectKills = 0
    let spawns = 0

    /** Spawns one command; when `kill`, kills it at a PRNG-chosen point: a delay, or right as its n-th side effect lands. */
    async function attempt(args: readonly string[], kill: boolean): Promise<{ killed: boolean; code: number | null; stdout: string; stderr: string }> {
      spawns++
      const proc = spawnQflow(args, env)
      let timer: NodeJS.Timeout | undefined
      let byEffect = false
      if (kill) {
        if (rng() < EFFECT_KILL_P) {
          // Kill as the server records the request: the effect happened, its completion was never committed.
          const after = 1 + Math.floor(rng() * 2)
          let seen = 0
          server.onRequest = () => {
            seen++
            if (seen === after) {
              byEffect = true
              proc.child.kill('SIGKILL')
            }
          }
          timer = setTimeout(() => proc.child.kill('SIGKILL'), EFFECT_KILL_FALLBACK_MS)
        } else {
          timer = setTimeout(() => proc.child.kill('SIGKILL'), KILL_DELAY_MIN_MS + Math.floor(rng() * KILL_DELAY_SPAN_MS))
        }
      }
      const { code, signal } = await proc.exited
      if (timer !== undefined) clearTimeout(timer)
      server.onRequest = undefined
      const killed = signal === 'SIGKILL'
      if (killed) {
        kills++
        if (byEffect) effectKills++
      } else if (code !== 0) {
        throw new Error(`qflow ${args.join(' ')} exited ${code}: ${proc.stderr()}`)
      }
      return { killed, code, stdout: proc.stdout(), stderr: proc.stderr() }
    }

    const results = new Map<string, { status: string; output: unknown }>()
    const INPUTS: number[] = []
    for (let i = 0; i < MAX_EXECUTIONS && kills < KILL_TARGET; i++) {
      const n = inputOf(i)
      INPUTS.push(n)
      const id = `exec-crash-${i}`
      const run = ['--json', 'run', flowFile, '--input', JSON.stringify({ n }), '--execution-id', id, '--data-dir', data, '--durability', 'fsync', '--no-progress']
      const resume = ['--json', 'resume', '--data-dir', data, '--durability', 'fsync']
      let done = false
      for (let round = 0; round < KILL_ROUNDS && !done; round++) {
        const r = await attempt(run, true)
        if (!r.killed) {
          results.set(id, JSON.parse(r.stdout) as { status: string; output: unknown })
          done = true
          break
        }
        const s = await attempt(resume, rng() < RESUME_KILL_P)
        if (!s.killed) {
          const outcome = (JSON.parse(s.stdout) as { executionId: string; status: string; output: unknown }[]).find((o) => o.executionId === id)
          if (outcome !== undefined) {
            results.set(id, outcome)
            done = true
          }
        }
      }
      if (!done) {
        // Let it finish: resume whatever was started, then run (which starts it if no start was ever committed).
        await attempt(resume, false)
        const r = await attempt(run, false)
        results.set(id, JSON.parse(r.stdout) as { status: string; output: unknown })
      }
    }
    const runMs = Date.now() - began
    expect(spawned.size).toBe(0)

    // Every execution finished with the right output.
    for (const [i, n] of INPUTS.entries()) {
      expect(results.get(`exec-crash-${i}`)).toMatchObject({ status: 'completed', output: expectedOutput(n).output })
    }
    const list = JSON.parse((await qflow(['--json', 'exec', 'list', '--data-dir', data])).stdout) as { executionId: string; status: string }[]
    expect(list.map((e) => [e.executionId, e.status]).sort()).toEqual(INPUTS.map((_, i) => [`exec-crash-${i}`, 'completed']).sort())

    // Each step committed exactly once; the branches not taken never.
    const stepIds = (crashFlow(server.url).steps as { id: string }[]).map((s) => s.id)
    for (const [i, n] of INPUTS.entries()) {
      const id = `exec-crash-${i}`
      const logs = await qflow(['--json', 'exec', 'logs', id, '--data-dir', data])
      expect(logs.code).toBe(0)
      const entries = (JSON.parse(logs.stdout) as { entries: LogEntryJson[] }).entries
      const completed = new Map<string, number>()
      // The last step's completion is the execution's `completed` entry, which names it.
      for (const e of entries) if ((e.kind === 'step-completed' || e.kind === 'completed') && e.stepId !== undefined) completed.set(e.stepId, (completed.get(e.stepId) ?? 0) + 1)
      const { skipped } = expectedOutput(n)
      // A parallel step commits its split (step-dispatched) and its join through its branches.
      const expected = Object.fromEntries(stepIds.filter((s) => !skipped.includes(s) && s !== 'p01').map((s) => [s, 1]))
      expect(Object.fromEntries(completed)).toEqual(expected)
      expect(entries.filter((e) => e.kind === 'step-dispatched' && e.stepId === 'p01')).toHaveLength(1)
      expect(entries.filter((e) => e.kind === 'completed')).toHaveLength(1)

      // The log is intact: every hash, link, signature and payload checks out.
      const verify = await qflow(['exec', 'verify', id, '--data-dir', data])
      expect(verify.code).toBe(0)
      expect(verify.stdout).toBe(`ok: ${id}: ${entries.length} entries verified\n`)
    }

    // Every side effect carried its step's idempotency key; retries after a crash reused it.
    const perKey = new Map<string, number>()
    for (const request of server.requests) {
      const step = request.path.replace('/effect/', '')
      expect(EFFECT_STEPS).toContain(step)
      expect(request.idempotencyKey).toMatch(new RegExp(`^exec-crash-\\d+:${step}:1$`))
      expect((JSON.parse(request.body) as { step: string }).step).toBe(step)
      perKey.set(request.idempotencyKey as string, (perKey.get(request.idempotencyKey as string) ?? 0) + 1)
    }
    const keys = INPUTS.flatMap((_, i) => EFFECT_STEPS.map((s) => `exec-crash-${i}:${s}:1`))
    expect([...perKey.keys()].sort()).toEqual(keys.sort())
    const repeated = [...perKey.values()].filter((c) => c > 1).length

    console.log(
      `crash test: ${kills} SIGKILLs (${effectKills} right after a side effect landed) over ${spawns} qflow processes, ` +
        `${INPUTS.length} executions x ${stepIds.length} steps, ${server.requests.length} effect requests for ${keys.length} keys ` +
        `(${repeated} keys re-sent after a crash), ${(runMs / 1000).toFixed(1)} s of kill/resume`
    )
    expect(kills).toBeGreaterThanOrEqual(50)
    // Not vacuous: processes died right after an effect, and those effects were sent again, keyed the same.
    expect(effectKills).toBeGreaterThan(0)
    expect(repeated).toBeGreaterThan(0)
  }, 300_000)
})
