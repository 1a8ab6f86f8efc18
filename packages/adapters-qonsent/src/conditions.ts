import { MAX_CONDITION_STRING, MAX_CONDITION_VALUES, MAX_MATCH_KEYS } from './constants.js'
import { InvalidGrantError } from './errors.js'
import { type CidrBlock, cidrContains, parseCidr, parseIpAddress } from './ip.js'
import { hasLoneSurrogate, pointerToken } from './text.js'

/** A value a `match` condition compares a context fact with. */
export type ConditionScalar = string | number | boolean

/**
 * Conditions a grant holds only under. Every given condition must hold (AND); a list means any
 * of its values (OR). The language is declarative and closed — no expressions, no regexes, no
 * loops — so evaluating it is cheap and can never run away.
 */
export interface GrantConditions {
  /** The check's `context.subnet` (the DAO subnet) must be one of these. */
  readonly subnet?: string | readonly string[]
  /** An absolute window the grant holds in, ms since the epoch or ISO 8601 date-times; either end may be open. */
  readonly timeWindow?: { readonly from?: number | string; readonly to?: number | string }
  /**
   * A daily window, `HH:MM` to `HH:MM` (to exclusive), in UTC shifted by `utcOffsetMinutes`.
   * A window whose end is before its start wraps midnight (`22:00`–`06:00`).
   */
  readonly dailyWindow?: { readonly from: string; readonly to: string; readonly utcOffsetMinutes?: number }
  /** The check's `context.clientIp` must lie in one of these CIDR blocks (IPv4 or IPv6). */
  readonly ipCidr?: string | readonly string[]
  /** The check's `context.kind` (the operation kind, e.g. `exec.step`) must be one of these. */
  readonly kind?: string | readonly string[]
  /** Each named context fact must equal the value (or one of the values). */
  readonly match?: Readonly<Record<string, ConditionScalar | readonly ConditionScalar[]>>
}

/** The names of the conditions the language has. */
export const CONDITION_NAMES = ['subnet', 'timeWindow', 'dailyWindow', 'ipCidr', 'kind', 'match'] as const

/** The name of one condition. */
export type ConditionName = (typeof CONDITION_NAMES)[number]

/** A facts object a check carries (`ConsentRequest.context`). */
type Context = Readonly<Record<string, unknown>> | undefined

/** One compiled test: `undefined` when it holds, else the name of the condition that failed. */
type CompiledTest = (context: Context, now: number) => boolean

/** Conditions compiled once, evaluated per check. */
export interface CompiledConditions {
  /** The name of the first condition that does not hold, or `undefined` when all hold. */
  firstFailing(context: Context, now: number): ConditionName | undefined
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/
const CLOCK_TIME = /^([01]\d|2[0-3]):([0-5]\d)$/
const MATCH_KEY = /^[A-Za-z_$][A-Za-z0-9_.$-]{0,63}$/
const MINUTES_PER_DAY = 24 * 60

function fact(context: Context, key: string): unknown {
  if (context === undefined || context === null || typeof context !== 'object') return undefined
  return Object.hasOwn(context, key) ? context[key] : undefined
}

function fail(path: string, message: string): never {
  throw new InvalidGrantError(message, path)
}

function checkString(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') fail(path, 'Expected a non-empty string')
  if (value.length > MAX_CONDITION_STRING) fail(path, `Expected at most ${MAX_CONDITION_STRING} characters`)
  if (hasLoneSurrogate(value)) fail(path, 'A lone UTF-16 surrogate has no canonical form')
  return value
}

function listOf<T>(value: unknown, path: string, item: (v: unknown, p: string) => T): T[] {
  const values = Array.isArray(value) ? (value as unknown[]) : [value]
  if (values.length === 0) fail(path, 'Expected at least one value')
  if (values.length > MAX_CONDITION_VALUES) fail(path, `Expected at most ${MAX_CONDITION_VALUES} values`)
  return values.map((v, i) => item(v, Array.isArray(value) ? `${path}/${i}` : path))
}

function checkInstant(value: unknown, path: string): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) fail(path, 'Expected ms since the epoch (a non-negative integer)')
    return value
  }
  if (typeof value === 'string' && ISO_DATE_TIME.test(value)) {
    const ms = Date.parse(value)
    if (!Number.isNaN(ms)) return ms
  }
  return fail(path, 'Expected ms since the epoch or an ISO 8601 date-time with a zone (2026-01-31T09:00:00Z)')
}

function checkObject(value: unknown, path: string, allowed: readonly string[]): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path, 'Expected an object')
  const record = value as Record<string, unknown>
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) fail(`${path}/${pointerToken(key)}`, `Unknown member; expected ${allowed.join(', ')}`)
  }
  return record
}

function compileOneOf(values: readonly string[], key: string): CompiledTest {
  if (values.length === 1) {
    const only = values[0] as string
    return (context) => fact(context, key) === only
  }
  const set = new Set(values)
  return (context) => {
    const v = fact(context, key)
    return typeof v === 'string' && set.has(v)
  }
}

function clockMinutes(value: unknown, path: string): number {
  if (typeof value !== 'string') fail(path, 'Expected HH:MM')
  const m = CLOCK_TIME.exec(value)
  if (m === null) fail(path, 'Expected HH:MM between 00:00 and 23:59')
  return Number(m[1]) * 60 + Number(m[2])
}

function compileTest(name: ConditionName, value: unknown, path: string): CompiledTest {
  switch (name) {
    case 'subnet':
      return compileOneOf(listOf(value, path, checkString), 'subnet')
    case 'kind':
      return compileOneOf(listOf(value, path, checkString), 'kind')
    case 'timeWindow': {
      const window = checkObject(value, path, ['from', 'to'])
      const from = window.from === undefined ? undefined : checkInstant(window.from, `${path}/from`)
      const to = window.to === undefined ? undefined : checkInstant(window.to, `${path}/to`)
      if (from === undefined && to === undefined) fail(path, 'Expected from, to or both')
      if (from !== undefined && to !== undefined && from >= to) fail(`${path}/to`, 'Expected to after from')
      const start = from ?? Number.NEGATIVE_INFINITY
      const end = to ?? Number.POSITIVE_INFINITY
      return (_context, now) => now >= start && now < end
    }
    case 'dailyWindow': {
      const window = checkObject(value, path, ['from', 'to', 'utcOffsetMinutes'])
      const from = clockMinutes(window.from, `${path}/from`)
      const to = clockMinutes(window.to, `${path}/to`)
      if (from === to) fail(`${path}/to`, 'Expected to different from from (an empty or full-day window)')
      const offset = window.utcOffsetMinutes ?? 0
      if (typeof offset !== 'number' || !Number.isInteger(offset) || Math.abs(offset) > 14 * 60) {
        fail(`${path}/utcOffsetMinutes`, 'Expected whole minutes between -840 and 840')
      }
      return (_context, now) => {
        const local = Math.floor(now / 60_000) + offset
        const minute = ((local % MINUTES_PER_DAY) + MINUTES_PER_DAY) % MINUTES_PER_DAY
        return from < to ? minute >= from && minute < to : minute >= from || minute < to
      }
    }
    case 'ipCidr': {
      const blocks: CidrBlock[] = listOf(value, path, (v, p) => {
        const block = parseCidr(v)
        return block ?? fail(p, 'Expected a CIDR block (10.0.0.0/8, 2001:db8::/32) or an address')
      })
      return (context) => {
        const address = parseIpAddress(fact(context, 'clientIp'))
        if (address === undefined) return false
        for (const block of blocks) if (cidrContains(block, address)) return true
        return false
      }
    }
    case 'match': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path, 'Expected an object of context facts')
      const entries = Object.entries(value as Record<string, unknown>)
      if (entries.length === 0) fail(path, 'Expected at least one fact')
      if (entries.length > MAX_MATCH_KEYS) fail(path, `Expected at most ${MAX_MATCH_KEYS} facts`)
      const tests = entries.map(([key, expected]) => {
        const p = `${path}/${pointerToken(key)}`
        if (!MATCH_KEY.test(key) || key === '__proto__') fail(p, 'Expected a fact name of letters, digits, _ . $ -')
        const allowed = new Set(
          listOf(expected, p, (v, vp): ConditionScalar => {
            if (typeof v === 'string') return checkString(v, vp)
            if (typeof v === 'boolean') return v
            if (typeof v === 'number' && Number.isFinite(v)) return v
            return fail(vp, 'Expected a string, a finite number or a boolean')
          })
        )
        return (context: Context) => allowed.has(fact(context, key) as ConditionScalar)
      })
      return (context) => tests.every((test) => test(context))
    }
  }
}

/**
 * Validates and compiles a grant's conditions.
 *
 * @param path - the JSON pointer of the conditions inside their grant, for error paths.
 * @throws {@link InvalidGrantError} naming the offending member.
 */
export function compileConditions(conditions: unknown, path = '/conditions'): CompiledConditions {
  const record = checkObject(conditions, path, CONDITION_NAMES)
  const tests: [ConditionName, CompiledTest][] = []
  for (const name of CONDITION_NAMES) {
    if (record[name] !== undefined) tests.push([name, compileTest(name, record[name], `${path}/${name}`)])
  }
  return {
    firstFailing(context, now) {
      for (const [name, test] of tests) if (!test(context, now)) return name
      return undefined
    }
  }
}
