import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CallMetrics, Sandbox } from '../src/index.js'
import { startSandbox, text } from './fixtures/templates.js'

/** The sandbox still serves: a good call right after a contained failure. */
async function stillServes(box: Sandbox): Promise<void> {
  const { output } = await box.call('echo@1.0.0', 'echo', 'still here')
  expect(text(output)).toBe('still here')
}

describe('limits and hostile modules', () => {
  let box: Sandbox
  const calls: CallMetrics[] = []
  beforeAll(async () => {
    box = (
      await startSandbox(['echo', 'spin', 'recurse', 'grow', 'trap', 'sha256'], {
        limits: { timeoutMs: 2_000, fuel: 1e12, maxMemoryPages: 64, maxInputBytes: 4096, maxOutputBytes: 4096 },
        poolSize: 1
      })
    ).box
    box.onCall((m) => calls.push(m))
  })
  afterAll(async () => {
    await box.stop()
  })

  it('an infinite loop runs out of fuel, reporting the fuel used', async () => {
    const err = await box.call('spin@0.0.1', 'spin', '', { fuel: 1_000_000 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'SandboxFuelExhaustedError', fuelLimit: 1_000_000 })
    expect((err as { fuelUsed: number }).fuelUsed).toBeGreaterThan(1_000_000)
    expect(calls.at(-1)).toMatchObject({ outcome: 'SandboxFuelExhaustedError', function: 'spin' })
    await stillServes(box)
  })

  it('an infinite loop with fuel to spare is stopped at its wall-time limit, and its template serves the next call', async () => {
    const err = await box.call('spin@0.0.1', 'spin', '', { timeoutMs: 300 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'SandboxTimeoutError', timeoutMs: 300 })
    expect(calls.at(-1)?.outcome).toBe('SandboxTimeoutError')
    await stillServes(box)
    // The killed instance is not reused: the same template answers again from a fresh worker.
    await expect(box.call('spin@0.0.1', 'spin', '', { fuel: 10_000 })).rejects.toMatchObject({ name: 'SandboxFuelExhaustedError' })
  })

  it('an aborted call is stopped and its worker discarded', async () => {
    const controller = new AbortController()
    const call = box.call('spin@0.0.1', 'spin', '', { signal: controller.signal })
    setTimeout(() => controller.abort(), 50)
    await expect(call).rejects.toMatchObject({ name: 'SandboxCallAbortedError' })
    await stillServes(box)
    await expect(box.call('spin@0.0.1', 'spin', '', { fuel: 10_000 })).rejects.toMatchObject({ name: 'SandboxFuelExhaustedError' })
  })

  it('a recursion bomb is contained', async () => {
    await expect(box.call('recurse@0.0.1', 'recurse', '')).rejects.toMatchObject({ name: 'SandboxTrapError', kind: 'stack-overflow' })
    await stillServes(box)
    // With a small budget the same bomb runs out of fuel first.
    await expect(box.call('recurse@0.0.1', 'recurse', '', { fuel: 5_000 })).rejects.toMatchObject({ name: 'SandboxFuelExhaustedError' })
    await stillServes(box)
  })

  it('a memory.grow loop stops at the cap', async () => {
    const err = await box.call('grow@0.0.1', 'grow', '').catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'SandboxMemoryLimitError', maxPages: 64 })
    const last = calls.at(-1) as CallMetrics
    expect(last.peakMemoryPages).toBeLessThanOrEqual(64)
    expect(last.peakMemoryPages).toBeGreaterThan(1)
    await stillServes(box)
  })

  it('an allocation loop stops at the cap', async () => {
    const err = await box.call('grow@0.0.1', 'allocate', '').catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'SandboxMemoryLimitError', maxPages: 64 })
    expect((calls.at(-1) as CallMetrics).peakMemoryPages).toBeLessThanOrEqual(64)
    await stillServes(box)
  })

  it('a trap and an abort are typed errors', async () => {
    await expect(box.call('trap@0.0.1', 'trap', '')).rejects.toMatchObject({ name: 'SandboxTrapError', kind: 'trap' })
    await stillServes(box)
    await expect(box.call('trap@0.0.1', 'fails', '')).rejects.toMatchObject({ name: 'SandboxTrapError', kind: 'trap' })
    await stillServes(box)
  })

  it('an over-large input is refused before it runs', async () => {
    await expect(box.call('echo@1.0.0', 'echo', new Uint8Array(4097))).rejects.toMatchObject({ name: 'SandboxInputTooLargeError', bytes: 4097, maxBytes: 4096 })
    await stillServes(box)
  })

  it('an over-large output is dropped', async () => {
    await expect(box.call('echo@1.0.0', 'echo', new Uint8Array(4096), {})).resolves.toMatchObject({ metrics: { outputBytes: 4096 } })
  })

  it('fuel is deterministic: the same template and input burn the same fuel every time', async () => {
    const input = new Uint8Array(3000).map((_, i) => i & 0xff)
    const used = new Set<number>()
    for (let i = 0; i < 4; i++) used.add((await box.call('sha256@1.0.0', 'sha256', input)).metrics.fuelUsed)
    expect(used.size).toBe(1)
    expect([...used][0]).toBeGreaterThan(0)
    // More input, more fuel.
    const bigger = (await box.call('sha256@1.0.0', 'sha256', new Uint8Array(4000))).metrics.fuelUsed
    expect(bigger).toBeGreaterThan([...used][0] as number)
  })

  it('a function the manifest does not export is refused', async () => {
    await expect(box.call('echo@1.0.0', 'nope', '')).rejects.toMatchObject({ name: 'UnknownTemplateError' })
  })

  it('every call is counted in the metrics', () => {
    const m = box.metrics()
    expect(m.calls).toBe(calls.length)
    expect(m.outcomes.ok).toBe(calls.filter((c) => c.outcome === 'ok').length)
    expect(m.outcomes.SandboxTimeoutError).toBe(1)
  })
})

describe('huge output', () => {
  it('is refused with SandboxOutputTooLargeError, and the sandbox keeps serving', async () => {
    const { box } = await startSandbox(['echo', 'flood'], { limits: { maxMemoryPages: 2048, maxOutputBytes: 1 << 20, fuel: 1e12, timeoutMs: 20_000 } })
    try {
      await expect(box.call('flood@0.0.1', 'flood', '')).rejects.toMatchObject({ name: 'SandboxOutputTooLargeError', bytes: 64 << 20, maxBytes: 1 << 20 })
      await stillServes(box)
    } finally {
      await box.stop()
    }
  })

  it('hits the memory cap first when the cap is below the output', async () => {
    const { box } = await startSandbox(['echo', 'flood'], { limits: { maxMemoryPages: 256 } })
    try {
      await expect(box.call('flood@0.0.1', 'flood', '')).rejects.toMatchObject({ name: 'SandboxMemoryLimitError' })
      await stillServes(box)
    } finally {
      await box.stop()
    }
  })
})
