import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Sandbox } from '../src/index.js'
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { workerExecArgv } from '../src/pool.js'
import { startSandbox, TEMPLATE_DIR, text } from './fixtures/templates.js'

const execFileAsync = promisify(execFile)

describe('pool', () => {
  let box: Sandbox
  beforeAll(async () => {
    box = (await startSandbox(['echo', 'grow', 'json-transform'], { poolSize: 2, warmInstances: 2 })).box
  })
  afterAll(async () => {
    await box.stop()
  })

  it('serves concurrent calls, each with its own answer', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => box.call('echo@1.0.0', 'echo', `call ${i}`)))
    expect(answers.map((a) => text(a.output))).toEqual(Array.from({ length: 40 }, (_, i) => `call ${i}`))
  })

  it('no call sees what an earlier call left behind', async () => {
    const first = await box.run('json-transform@1.0.0', 'transform', { data: { a: 'x'.repeat(10_000) } })
    const again = await Promise.all(Array.from({ length: 6 }, () => box.run('json-transform@1.0.0', 'transform', { data: { b: 1 } })))
    expect(first.output).toEqual({ a: 'x'.repeat(10_000) })
    for (const r of again) expect(r.output).toEqual({ b: 1 })
    expect(new Set(again.map((r) => r.metrics.fuelUsed)).size).toBe(1)
  })

  it('reports metrics for every call: fuel, peak memory, bytes, outcome', async () => {
    const seen: { outcome: string; peakMemoryPages: number; fuelUsed: number; inputBytes: number; outputBytes: number }[] = []
    const off = box.onCall((m) => seen.push(m))
    await box.call('echo@1.0.0', 'echo', 'abc')
    await box.call('grow@0.0.1', 'grow', '').catch(() => undefined)
    off()
    await box.call('echo@1.0.0', 'echo', 'not seen')
    expect(seen).toHaveLength(2)
    expect(seen[0]).toMatchObject({ outcome: 'ok', inputBytes: 3, outputBytes: 3 })
    expect(seen[0]!.fuelUsed).toBeGreaterThan(0)
    expect(seen[0]!.peakMemoryPages).toBeGreaterThanOrEqual(1)
    // grow adds 16 pages at a time: it stops within 16 pages of the 256-page cap, never past it.
    expect(seen[1]).toMatchObject({ outcome: 'SandboxMemoryLimitError', outputBytes: 0 })
    expect(seen[1]!.peakMemoryPages).toBeLessThanOrEqual(256)
    expect(seen[1]!.peakMemoryPages).toBeGreaterThan(240)
  })

  it('replaces a worker that crashed while idle', async () => {
    // Reach the pool's threads (private) and kill them from outside, as a crash would.
    const internals = box as unknown as { loaded: Map<string, { manifest: { name: string }; pool: { all: Set<{ worker: { terminate(): Promise<number> } }>; workers: number } }> }
    const echo = [...internals.loaded.values()].find((t) => t.manifest.name === 'echo')!
    const threads = [...echo.pool.all]
    expect(threads.length).toBeGreaterThan(0)
    await Promise.all(threads.map((t) => t.worker.terminate()))
    expect(echo.pool.workers).toBe(0)
    const answers = await Promise.all([box.call('echo@1.0.0', 'echo', 'a'), box.call('echo@1.0.0', 'echo', 'b')])
    expect(answers.map((a) => text(a.output))).toEqual(['a', 'b'])
    expect(echo.pool.workers).toBeGreaterThan(0)
  })

  it('refuses calls once stopped', async () => {
    const { box: other } = await startSandbox(['echo'])
    await other.stop()
    await expect(other.call('echo@1.0.0', 'echo', 'x')).rejects.toMatchObject({ name: 'SandboxUnavailableError' })
  })

  it('workers inherit the node options, except those that would load their CommonJS source as an ES module', () => {
    expect(workerExecArgv(['--max-semi-space-size=32', '--conditions=dev'])).toBeUndefined()
    expect(workerExecArgv([])).toBeUndefined()
    expect(workerExecArgv(['--input-type=module', '--max-old-space-size=512', '--experimental-default-type', 'module', '--conditions=dev'])).toEqual([
      '--max-old-space-size=512',
      '--conditions=dev'
    ])
  })

  // qflow's #! line and pnpm start run node with --max-semi-space-size=32: a worker refuses a V8
  // option listed in its execArgv (ERR_WORKER_INVALID_EXEC_ARGV), so a template never ran there.
  it.each([
    ['a V8 option', ['--max-semi-space-size=32']],
    ['a V8 option and an ES-module -e', ['--max-semi-space-size=32', '--input-type=module']]
  ])('runs a template in a process started with %s', async (_, options) => {
    const script = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/run-echo.mjs')
    const source = options.includes('--input-type=module') ? ['-e', `await import(${JSON.stringify(pathToFileURL(script).href)})`, TEMPLATE_DIR] : [script, TEMPLATE_DIR]
    const { stdout } = await execFileAsync(process.execPath, [...options, ...source], { cwd: dirname(script), timeout: 60_000 })
    expect(stdout).toBe('through a worker')
  })
})
