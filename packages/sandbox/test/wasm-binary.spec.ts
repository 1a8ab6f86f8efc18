import { describe, expect, it } from 'vitest'
import { FUEL_GLOBAL, OOM_GLOBAL, prepareModule } from '../src/index.js'

// (module (memory 1) (global $g (mut i32) (i32.const 0))
//   (func (export "grow") (result i32) (local i32)
//     (loop (if (i32.ne (memory.grow (i32.const 1)) (i32.const -1))
//       (then (local.set 0 (i32.add (local.get 0) (i32.const 1))) (br 1))))
//     (local.get 0)))
function section(id: number, content: number[]): number[] {
  return [id, content.length, ...content]
}
const body = [0x01, 0x01, 0x7f, 0x03, 0x40, 0x41, 0x01, 0x40, 0x00, 0x41, 0x7f, 0x47, 0x04, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6a, 0x21, 0x00, 0x0c, 0x01, 0x0b, 0x0b, 0x20, 0x00, 0x0b]
const growModule = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, [0x01, 0x60, 0x00, 0x01, 0x7f]),
  ...section(3, [0x01, 0x00]),
  ...section(5, [0x01, 0x00, 0x01]),
  ...section(6, [0x01, 0x7f, 0x01, 0x41, 0x00, 0x0b]),
  ...section(7, [0x01, 0x04, 0x67, 0x72, 0x6f, 0x77, 0x00, 0x00]),
  ...section(10, [0x01, body.length, ...body])
])

interface Instance {
  exports: Record<string, unknown>
}
const wasm = (globalThis as unknown as { WebAssembly: { instantiate(bytes: Uint8Array): Promise<{ instance: Instance }> } }).WebAssembly

async function instantiate(bytes: Uint8Array): Promise<{ grow: () => number; fuel: { value: bigint }; oom: { value: number } }> {
  const { instance } = await wasm.instantiate(bytes)
  const e = instance.exports
  return { grow: e.grow as () => number, fuel: e[FUEL_GLOBAL] as { value: bigint }, oom: e[OOM_GLOBAL] as { value: number } }
}

describe('prepareModule', () => {
  it('caps linear memory: memory.grow past the cap returns -1 and raises the flag', async () => {
    const prepared = prepareModule(growModule, { maxPages: 5, fuel: false, startFuel: 0 })
    expect(prepared.exports).toEqual(['grow'])
    expect(prepared.stateGlobals).toEqual(['__qflow_g0'])
    const m = await instantiate(prepared.bytes)
    expect(m.oom.value).toBe(0)
    expect(m.grow()).toBe(4)
    expect(m.oom.value).toBe(1)
  })

  it('counts fuel deterministically and traps when it runs out', async () => {
    const prepared = prepareModule(growModule, { maxPages: 50, fuel: true, startFuel: 1000 })
    const a = await instantiate(prepared.bytes)
    a.fuel.value = 1_000_000n
    expect(a.grow()).toBe(49)
    const usedA = 1_000_000n - a.fuel.value
    const b = await instantiate(prepared.bytes)
    b.fuel.value = 1_000_000n
    b.grow()
    expect(1_000_000n - b.fuel.value).toBe(usedA)
    expect(usedA > 49n).toBe(true)
    const c = await instantiate(prepared.bytes)
    c.fuel.value = 100n
    expect(() => c.grow()).toThrow(/unreachable/)
    expect(c.fuel.value < 0n).toBe(true)
  })

  it('refuses a module asking for more memory than its cap at start', () => {
    expect(() => prepareModule(growModule, { maxPages: 0, fuel: false, startFuel: 0 })).toThrow(expect.objectContaining({ name: 'SandboxMemoryLimitError' }))
  })

  it('refuses bytes that are not a module, and truncated modules', () => {
    expect(() => prepareModule(new TextEncoder().encode('hello'), { maxPages: 1, fuel: true, startFuel: 0 })).toThrow(expect.objectContaining({ name: 'InvalidModuleError' }))
    expect(() => prepareModule(growModule.subarray(0, growModule.length - 3), { maxPages: 1, fuel: true, startFuel: 0 })).toThrow(
      expect.objectContaining({ name: 'InvalidModuleError' })
    )
  })

  it('refuses a module without its own memory', () => {
    const noMemory = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...section(1, [0x01, 0x60, 0x00, 0x00])])
    expect(() => prepareModule(noMemory, { maxPages: 1, fuel: true, startFuel: 0 })).toThrow(expect.objectContaining({ name: 'InvalidModuleError' }))
  })
})
