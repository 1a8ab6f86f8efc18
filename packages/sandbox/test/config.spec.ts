import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CallMetrics, Sandbox } from '../src/index.js'
import { startSandbox, text } from './fixtures/templates.js'

describe('per-call Extism config', () => {
  let box: Sandbox
  const calls: CallMetrics[] = []
  beforeAll(async () => {
    box = (await startSandbox(['config', 'csv'], { poolSize: 1, maxConfigBytes: 256 })).box
    box.onCall((m) => calls.push(m))
  })
  afterAll(async () => {
    await box.stop()
  })
  const read = async (key: string, config?: Record<string, string>): Promise<unknown> =>
    JSON.parse(text((await box.call('config@0.0.1', 'read', key, config === undefined ? {} : { config })).output))

  it('the template reads the call config with config_get', async () => {
    expect(await read('region', { region: 'eu-west', tier: 'gold' })).toBe('eu-west')
    expect(await read('tier', { region: 'eu-west', tier: 'gold' })).toBe('gold')
    expect(await read('missing', { region: 'eu-west' })).toBeNull()
    expect(await read('note', { note: 'Zoë ✓ "quoted"' })).toBe('Zoë ✓ "quoted"')
  })

  it('belongs to one call only: the next call on the same instance sees none of it', async () => {
    expect(await read('region', { region: 'eu-west' })).toBe('eu-west')
    expect(await read('region')).toBeNull()
    expect(await read('region', { other: 'x' })).toBeNull()
  })

  it('inherited property names are no config keys', async () => {
    for (const key of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) expect(await read(key)).toBeNull()
    expect(await read('__proto__', { __proto__: 'p' } as Record<string, string>)).toBeNull()
    expect(await read('__proto__', JSON.parse('{"__proto__":"own"}') as Record<string, string>)).toBe('own')
  })

  it('changes what a template does: csv with a semicolon delimiter', async () => {
    const csv = 'name;city\nAda;London\n'
    expect(JSON.parse(text((await box.call('csv@1.0.0', 'parse', csv, { config: { delimiter: ';' } })).output))).toEqual([{ name: 'Ada', city: 'London' }])
    expect(JSON.parse(text((await box.call('csv@1.0.0', 'parse', csv)).output))).toEqual([{ 'name;city': 'Ada;London' }])
    await expect(box.call('csv@1.0.0', 'parse', csv, { config: { delimiter: ';;' } })).rejects.toMatchObject({ name: 'SandboxTrapError', kind: 'guest-error' })
  })

  it('is refused before anything runs unless it is a bounded map of non-empty strings', async () => {
    const cases: [unknown, string][] = [
      [['a'], '/config'],
      ['text', '/config'],
      [{ n: 1 }, '/config/n'],
      [{ empty: '' }, '/config/empty'],
      [{ '': 'x' }, '/config/'],
      [{ 'a/b': 7 }, '/config/a~1b'],
      [{ big: 'x'.repeat(300) }, '/config/big'],
      [Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])), '/config']
    ]
    for (const [config, pointer] of cases) {
      const before = calls.length
      await expect(box.call('config@0.0.1', 'read', 'n', { config: config as Record<string, string> })).rejects.toMatchObject({ name: 'SandboxConfigError', pointer })
      expect(calls.length).toBe(before + 1)
      expect(calls.at(-1)).toMatchObject({ outcome: 'SandboxConfigError', fuelUsed: 0 })
    }
    expect(await read('ok', { ok: 'yes' })).toBe('yes')
  })
})
