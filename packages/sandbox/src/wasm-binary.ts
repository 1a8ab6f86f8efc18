import { InvalidModuleError, SandboxMemoryLimitError } from './errors.js'

/** One import of a module. */
export interface ModuleImport {
  /** Import module name (`extism:host/env`). */
  readonly module: string
  /** Field name (`output_set`). */
  readonly name: string
  /** 0 function, 1 table, 2 memory, 3 global. */
  readonly kind: number
}

/** What {@link prepareModule} was asked for. */
export interface PrepareOptions {
  /** Cap of the module's linear memory, in 64 KiB pages. */
  readonly maxPages: number
  /** Whether to inject the fuel counter. */
  readonly fuel: boolean
  /** The fuel the module's start function may spend at instantiation. */
  readonly startFuel: number
}

/** A module rewritten for the sandbox. */
export interface PreparedModule {
  /** The rewritten bytes. */
  readonly bytes: Uint8Array
  /** The module's imports. */
  readonly imports: ModuleImport[]
  /** The module's exported function names. */
  readonly exports: string[]
  /**
   * Exports added for the module's own mutable globals (`__qflow_g<index>`), so a host can
   * snapshot them after instantiation and restore them before each call.
   */
  readonly stateGlobals: string[]
}

/** Name of the exported mutable i64 global holding the remaining fuel. */
export const FUEL_GLOBAL = '__qflow_fuel'
/** Name of the exported mutable i32 global set to 1 when a `memory.grow` was refused (returned -1). */
export const OOM_GLOBAL = '__qflow_oom'

/** Prefix of the exports added for the module's own mutable globals. */
export const STATE_GLOBAL_PREFIX = '__qflow_g'

const MAGIC = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
const SECTION_ORDER: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13 }

class Reader {
  pos: number
  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length
  ) {
    this.pos = start
  }
  byte(): number {
    if (this.pos >= this.end) throw new InvalidModuleError('unexpected end of module', this.pos)
    return this.bytes[this.pos++] as number
  }
  u32(): number {
    let result = 0
    let shift = 0
    for (;;) {
      const b = this.byte()
      result += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) break
      shift += 7
      if (shift > 35) throw new InvalidModuleError('LEB128 too long', this.pos)
    }
    return result
  }
  skipLeb(): void {
    for (let i = 0; i < 10; i++) if ((this.byte() & 0x80) === 0) return
    throw new InvalidModuleError('LEB128 too long', this.pos)
  }
  skip(n: number): void {
    if (this.pos + n > this.end) throw new InvalidModuleError('unexpected end of module', this.pos)
    this.pos += n
  }
  name(): string {
    const length = this.u32()
    this.skip(length)
    return new TextDecoder('utf-8', { fatal: false }).decode(this.bytes.subarray(this.pos - length, this.pos))
  }
}

function skipConstExpr(r: Reader): void {
  for (;;) {
    const op = r.byte()
    if (op === 0x0b) return
    if (op === 0x41 || op === 0x42 || op === 0x23 || op === 0xd2) r.skipLeb()
    else if (op === 0x43) r.skip(4)
    else if (op === 0x44) r.skip(8)
    else if (op === 0xd0) r.skip(1)
    else if (!(op >= 0x6a && op <= 0x7e)) throw new InvalidModuleError(`unsupported constant expression opcode 0x${op.toString(16)}`, r.pos - 1)
  }
}

function uleb(value: number): number[] {
  const out: number[] = []
  let v = value
  do {
    let b = v % 128
    v = Math.floor(v / 128)
    if (v !== 0) b |= 0x80
    out.push(b)
  } while (v !== 0)
  return out
}

function sleb64(value: bigint): number[] {
  const out: number[] = []
  let v = value
  for (;;) {
    const b = Number(v & 0x7fn)
    v >>= 7n
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b)
      return out
    }
    out.push(b | 0x80)
  }
}

function nameBytes(name: string): number[] {
  const encoded = new TextEncoder().encode(name)
  return [...uleb(encoded.length), ...encoded]
}

interface Section {
  readonly id: number
  readonly start: number
  readonly end: number
  content: Uint8Array
}

function readSections(bytes: Uint8Array): Section[] {
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) throw new InvalidModuleError('not a WebAssembly 1.0 module', 0)
  const sections: Section[] = []
  const r = new Reader(bytes, 8)
  while (r.pos < bytes.length) {
    const id = r.byte()
    const size = r.u32()
    const start = r.pos
    r.skip(size)
    sections.push({ id, start, end: r.pos, content: bytes.subarray(start, r.pos) })
  }
  return sections
}

/** Decodes the limits at the reader: `{ flags, min, max? }`. */
function readLimits(r: Reader): { flags: number; min: number; max?: number } {
  const flags = r.byte()
  if (flags > 1) throw new InvalidModuleError(flags & 2 ? 'shared memory is not supported' : 'memory64 is not supported', r.pos - 1)
  const min = r.u32()
  return flags === 1 ? { flags, min, max: r.u32() } : { flags, min }
}

/**
 * Reads a module's imports and exports, caps its linear memory at `maxPages` (rewriting the
 * memory section's maximum, so `memory.grow` past it returns -1), and, when asked, injects a fuel
 * counter: an exported mutable i64 global ({@link FUEL_GLOBAL}) decremented on entry to every
 * function and at the head of every loop iteration by the number of instructions that run before
 * the next such point (a static weight), trapping with `unreachable` once it goes below zero. The
 * same module and input therefore burn the same fuel on every node. Every `memory.grow` is
 * followed by a check that sets the exported {@link OOM_GLOBAL} flag when the grow was refused.
 */
export function prepareModule(bytes: Uint8Array, options: PrepareOptions): PreparedModule {
  const sections = readSections(bytes)
  const imports: ModuleImport[] = []
  const exports: string[] = []
  let importedGlobals = 0
  let definedGlobals = 0
  const stateGlobals: number[] = []
  let hasMemory = false
  const out = new Map<number, Uint8Array>()

  for (const section of sections) {
    const r = new Reader(bytes, section.start, section.end)
    if (section.id === 2) {
      const count = r.u32()
      for (let i = 0; i < count; i++) {
        const module = r.name()
        const name = r.name()
        const kind = r.byte()
        imports.push({ module, name, kind })
        if (kind === 0) {
          r.u32()
        } else if (kind === 1) {
          r.byte()
          readLimits(r)
        } else if (kind === 2) {
          throw new InvalidModuleError(`the module imports its memory (${module}.${name}); it must define its own`, r.pos)
        } else if (kind === 3) {
          importedGlobals++
          r.byte()
          r.byte()
        } else throw new InvalidModuleError(`unsupported import kind ${kind}`, r.pos)
      }
    } else if (section.id === 5) {
      const count = r.u32()
      const rewritten: number[] = [...uleb(count)]
      for (let i = 0; i < count; i++) {
        const limits = readLimits(r)
        if (limits.min > options.maxPages) {
          throw new SandboxMemoryLimitError('', '', options.maxPages, `the module asks for ${limits.min} pages at start, over its cap of ${options.maxPages}`)
        }
        const max = Math.min(limits.max ?? options.maxPages, options.maxPages)
        rewritten.push(0x01, ...uleb(limits.min), ...uleb(max))
        hasMemory = true
      }
      out.set(5, Uint8Array.from(rewritten))
    } else if (section.id === 6) {
      definedGlobals = r.u32()
      for (let i = 0; i < definedGlobals; i++) {
        r.byte()
        const mutable = r.byte() === 1
        skipConstExpr(r)
        if (mutable) stateGlobals.push(importedGlobals + i)
      }
    } else if (section.id === 7) {
      const count = r.u32()
      for (let i = 0; i < count; i++) {
        const name = r.name()
        const kind = r.byte()
        r.u32()
        if (kind === 0) exports.push(name)
        if (name.startsWith('__qflow_')) throw new InvalidModuleError(`the module exports ${name}: the __qflow_ prefix is the sandbox's`)
      }
    }
  }
  if (!hasMemory) throw new InvalidModuleError('the module defines no memory')

  const fuelIndex = importedGlobals + definedGlobals
  const globalEntries = [
    ...[0x7e, 0x01, 0x42, ...sleb64(BigInt(options.fuel ? options.startFuel : 0)), 0x0b],
    ...[0x7f, 0x01, 0x41, 0x00, 0x0b],
    ...[0x7f, 0x01, 0x41, 0x00, 0x0b]
  ]
  const globals = sections.find((s) => s.id === 6)
  if (globals === undefined) out.set(6, Uint8Array.from([0x03, ...globalEntries]))
  else {
    const r = new Reader(bytes, globals.start, globals.end)
    const count = r.u32()
    out.set(6, concat([Uint8Array.from(uleb(count + 3)), bytes.subarray(r.pos, globals.end), Uint8Array.from(globalEntries)]))
  }
  const exportEntries = [
    ...nameBytes(FUEL_GLOBAL), 0x03, ...uleb(fuelIndex),
    ...nameBytes(OOM_GLOBAL), 0x03, ...uleb(fuelIndex + 2),
    ...stateGlobals.flatMap((g) => [...nameBytes(`${STATE_GLOBAL_PREFIX}${g}`), 0x03, ...uleb(g)])
  ]
  const exportSection = sections.find((s) => s.id === 7)
  if (exportSection === undefined) out.set(7, Uint8Array.from([...uleb(2 + stateGlobals.length), ...exportEntries]))
  else {
    const r = new Reader(bytes, exportSection.start, exportSection.end)
    const count = r.u32()
    out.set(7, concat([Uint8Array.from(uleb(count + 2 + stateGlobals.length)), bytes.subarray(r.pos, exportSection.end), Uint8Array.from(exportEntries)]))
  }
  const code = sections.find((s) => s.id === 10)
  if (code !== undefined) out.set(10, instrumentCode(bytes, code, fuelIndex, options.fuel))

  // Reassemble in canonical order, adding the sections that did not exist.
  const ids = new Set([...sections.map((s) => s.id), ...out.keys()])
  const ordered = [...sections.filter((s) => s.id !== 0)]
  for (const id of ids) if (!sections.some((s) => s.id === id)) ordered.push({ id, start: 0, end: 0, content: new Uint8Array() })
  ordered.sort((a, b) => (SECTION_ORDER[a.id] ?? 0) - (SECTION_ORDER[b.id] ?? 0))
  const parts: Uint8Array[] = [Uint8Array.from(MAGIC)]
  for (const section of ordered) {
    const content = out.get(section.id) ?? section.content
    parts.push(Uint8Array.from([section.id, ...uleb(content.length)]), content)
  }
  // Custom sections (names, producers) are dropped: they carry nothing the sandbox runs.
  return { bytes: concat(parts), imports, exports, stateGlobals: stateGlobals.map((g) => `${STATE_GLOBAL_PREFIX}${g}`) }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const p of parts) length += p.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

function charge(fuelIndex: number, cost: number): number[] {
  const g = uleb(fuelIndex)
  // global.get f; i64.const cost; i64.sub; global.set f; global.get f; i64.const 0; i64.lt_s; if; unreachable; end
  return [0x23, ...g, 0x42, ...sleb64(BigInt(cost)), 0x7d, 0x24, ...g, 0x23, ...g, 0x42, 0x00, 0x53, 0x04, 0x40, 0x00, 0x0b]
}

function growCheck(fuelIndex: number): number[] {
  const tmp = uleb(fuelIndex + 1)
  const oom = uleb(fuelIndex + 2)
  // global.set tmp; global.get tmp; i32.const -1; i32.eq; if; i32.const 1; global.set oom; end; global.get tmp
  return [0x24, ...tmp, 0x23, ...tmp, 0x41, 0x7f, 0x46, 0x04, 0x40, 0x41, 0x01, 0x24, ...oom, 0x0b, 0x23, ...tmp]
}

function instrumentCode(bytes: Uint8Array, section: Section, fuelIndex: number, fuel: boolean): Uint8Array {
  const r = new Reader(bytes, section.start, section.end)
  const count = r.u32()
  const parts: Uint8Array[] = [Uint8Array.from(uleb(count))]
  for (let f = 0; f < count; f++) {
    const size = r.u32()
    const bodyStart = r.pos
    const bodyEnd = r.pos + size
    const body = new Reader(bytes, bodyStart, bodyEnd)
    const localGroups = body.u32()
    for (let i = 0; i < localGroups; i++) {
      body.u32()
      body.byte()
    }
    const exprStart = body.pos
    // Charge points: [offset to insert at, cost]; index 0 is the function entry.
    const points: { at: number; cost: number; grow?: true }[] = [{ at: exprStart, cost: 0 }]
    const owners: number[] = [0]
    const control: boolean[] = [false]
    while (body.pos < bodyEnd) {
      const opAt = body.pos
      const op = body.byte()
      ;(points[owners[owners.length - 1] as number] as { cost: number }).cost++
      switch (op) {
        case 0x02:
        case 0x04:
        case 0x03: {
          const bt = body.bytes[body.pos] as number
          if (bt === 0x40 || (bt >= 0x6f && bt <= 0x7f)) body.skip(1)
          else body.skipLeb()
          control.push(op === 0x03)
          if (op === 0x03) {
            points.push({ at: body.pos, cost: 0 })
            owners.push(points.length - 1)
          }
          break
        }
        case 0x0b:
          if (control.pop()) owners.pop()
          break
        case 0x0c:
        case 0x0d:
        case 0x10:
        case 0x12:
        case 0x20:
        case 0x21:
        case 0x22:
        case 0x23:
        case 0x24:
        case 0x25:
        case 0x26:
        case 0xd2:
        case 0x3f:
        case 0x41:
        case 0x42:
          body.skipLeb()
          break
        case 0x0e: {
          const n = body.u32()
          for (let i = 0; i <= n; i++) body.skipLeb()
          break
        }
        case 0x40:
          body.skipLeb()
          points.push({ at: body.pos, cost: 0, grow: true })
          break
        case 0x11:
        case 0x13:
          body.skipLeb()
          body.skipLeb()
          break
        case 0x1c: {
          const n = body.u32()
          body.skip(n)
          break
        }
        case 0x43:
          body.skip(4)
          break
        case 0x44:
          body.skip(8)
          break
        case 0xd0:
          body.skip(1)
          break
        case 0xfc: {
          const sub = body.u32()
          if (sub <= 7) break
          if (sub === 8 || sub === 12 || sub === 14) {
            body.skipLeb()
            body.skipLeb()
          } else if (sub === 10) {
            body.skip(2)
          } else if (sub === 11) {
            body.skip(1)
          } else if (sub === 9 || sub === 13 || (sub >= 15 && sub <= 17)) {
            body.skipLeb()
          } else throw new InvalidModuleError(`unsupported instruction 0xfc ${sub}`, opAt)
          break
        }
        default:
          if (op >= 0x28 && op <= 0x3e) {
            body.skipLeb()
            body.skipLeb()
          } else if (op === 0x00 || op === 0x01 || op === 0x05 || op === 0x0f || op === 0x1a || op === 0x1b || (op >= 0x45 && op <= 0xc4) || op === 0xd1) {
            // no immediates
          } else {
            throw new InvalidModuleError(`unsupported instruction 0x${op.toString(16)}`, opAt)
          }
      }
    }
    if (control.length !== 0) throw new InvalidModuleError('unbalanced function body', bodyEnd)
    const newBody: Uint8Array[] = []
    let copied = bodyStart
    for (const point of points) {
      newBody.push(bytes.subarray(copied, point.at))
      if (point.grow) newBody.push(Uint8Array.from(growCheck(fuelIndex)))
      else if (fuel) newBody.push(Uint8Array.from(charge(fuelIndex, point.cost)))
      copied = point.at
    }
    newBody.push(bytes.subarray(copied, bodyEnd))
    const joined = concat(newBody)
    parts.push(Uint8Array.from(uleb(joined.length)), joined)
    r.pos = bodyEnd
  }
  return concat(parts)
}

/** A compiled WebAssembly module (`WebAssembly.Module`; typed opaquely because this project's lib has no WebAssembly typings). */
export type CompiledModule = object

/** Compiles module bytes with the runtime's WebAssembly (validating them). */
export function compileModule(bytes: Uint8Array): Promise<CompiledModule> {
  const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<CompiledModule> } }).WebAssembly
  return wasm.compile(bytes)
}
