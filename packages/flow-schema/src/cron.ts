import { CronParseError } from './errors.js'

/** A parsed cron expression: the values each field allows, sorted ascending. */
export interface CronSchedule {
  /** The expression as written. */
  source: string
  /** Seconds (0-59); `[0]` for 5-field expressions. */
  seconds: number[]
  /** Minutes (0-59). */
  minutes: number[]
  /** Hours (0-23). */
  hours: number[]
  /** Days of the month (1-31). */
  daysOfMonth: number[]
  /** Months (1-12). */
  months: number[]
  /** Days of the week (0-6, Sunday is 0; 7 is read as Sunday). */
  daysOfWeek: number[]
  /** Whether the day-of-month field was restricted (not `*` or `?`); cron fires when either restricted day field matches. */
  daysOfMonthRestricted: boolean
  /** Whether the day-of-week field was restricted (not `*` or `?`). */
  daysOfWeekRestricted: boolean
}

interface FieldSpec {
  name: string
  min: number
  max: number
  names?: readonly string[]
  /** Whether `?` is allowed (day fields). */
  question?: boolean
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const

const SECOND: FieldSpec = { name: 'second', min: 0, max: 59 }
const MINUTE: FieldSpec = { name: 'minute', min: 0, max: 59 }
const HOUR: FieldSpec = { name: 'hour', min: 0, max: 23 }
const DAY_OF_MONTH: FieldSpec = { name: 'day-of-month', min: 1, max: 31, question: true }
const MONTH: FieldSpec = { name: 'month', min: 1, max: 12, names: MONTHS }
const DAY_OF_WEEK: FieldSpec = { name: 'day-of-week', min: 0, max: 7, names: DAYS, question: true }

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *'
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function parseValue(text: string, spec: FieldSpec, expression: string): number {
  if (/^[0-9]{1,2}$/.test(text)) {
    const n = Number(text)
    if (n < spec.min || n > spec.max) {
      throw new CronParseError(`${spec.name} value ${n} is outside ${spec.min}-${spec.max}`, { expression, field: spec.name })
    }
    return n
  }
  if (spec.names !== undefined) {
    const index = spec.names.indexOf(text.toUpperCase())
    if (index !== -1) return index + spec.min
  }
  throw new CronParseError(`${spec.name} has an invalid value ${JSON.stringify(text)}`, { expression, field: spec.name })
}

/** Expands one field into the set of values it allows; `undefined` means unrestricted (`*` or `?`). */
function parseField(text: string, spec: FieldSpec, expression: string): Set<number> | undefined {
  if (text === '*' || (text === '?' && spec.question === true)) return undefined
  const values = new Set<number>()
  for (const item of text.split(',')) {
    if (item === '') throw new CronParseError(`${spec.name} has an empty list item`, { expression, field: spec.name })
    const slash = item.indexOf('/')
    const rangeText = slash === -1 ? item : item.slice(0, slash)
    let step = 1
    if (slash !== -1) {
      const stepText = item.slice(slash + 1)
      if (!/^[0-9]{1,3}$/.test(stepText) || Number(stepText) === 0) {
        throw new CronParseError(`${spec.name} has an invalid step ${JSON.stringify(stepText)}`, { expression, field: spec.name })
      }
      step = Number(stepText)
      if (step > spec.max - spec.min + 1) {
        throw new CronParseError(`${spec.name} step ${step} is larger than the field's range`, { expression, field: spec.name })
      }
    }
    let start: number
    let end: number
    if (rangeText === '*') {
      start = spec.min
      end = spec.max
    } else {
      const dash = rangeText.indexOf('-')
      if (dash === -1) {
        start = parseValue(rangeText, spec, expression)
        // "a/n" runs from a to the end of the field
        end = slash === -1 ? start : spec.max
      } else {
        start = parseValue(rangeText.slice(0, dash), spec, expression)
        end = parseValue(rangeText.slice(dash + 1), spec, expression)
        if (start > end) {
          throw new CronParseError(`${spec.name} range ${rangeText} runs backwards`, { expression, field: spec.name })
        }
      }
    }
    for (let v = start; v <= end; v += step) values.add(v)
  }
  return values
}

function all(spec: FieldSpec): number[] {
  const out: number[] = []
  for (let v = spec.min; v <= spec.max; v++) out.push(v)
  return out
}

function sorted(set: Set<number> | undefined, spec: FieldSpec): number[] {
  return set === undefined ? all(spec) : [...set].sort((a, b) => a - b)
}

/**
 * Parses a cron expression: 5 fields (minute hour day-of-month month day-of-week) or 6 (with
 * seconds first), each `*`, a value, a range `a-b`, a step `*\/n`, `a-b/n` or `a/n`, or a comma list
 * of those; months and days of the week also by name (`JAN`, `MON`); `?` in a day field means
 * "no restriction"; `@yearly`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly` are shorthands.
 * A schedule that can never fire (like February 30th) is refused.
 *
 * @throws {@link CronParseError} naming the offending field.
 */
export function parseCron(expression: string): CronSchedule {
  if (typeof expression !== 'string') throw new CronParseError('cron expression must be a string')
  const source = expression
  const trimmed = expression.trim()
  const text = trimmed.startsWith('@') ? MACROS[trimmed.toLowerCase()] : trimmed
  if (text === undefined) throw new CronParseError(`unknown cron shorthand ${JSON.stringify(trimmed)}`, { expression: source })
  const parts = text.split(/\s+/)
  if (parts.length !== 5 && parts.length !== 6) {
    throw new CronParseError(`cron expression needs 5 or 6 fields, got ${parts.length}`, { expression: source })
  }
  const specs = parts.length === 6 ? [SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK] : [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK]
  const sets = parts.map((part, i) => parseField(part, specs[i] as FieldSpec, source))
  const offset = parts.length === 6 ? 1 : 0
  const dom = sets[offset + 2]
  const month = sets[offset + 3]
  const dow = sets[offset + 4]
  const daysOfWeek = [...new Set(sorted(dow, DAY_OF_WEEK).map((d) => (d === 7 ? 0 : d)))].sort((a, b) => a - b)
  const months = sorted(month, MONTH)
  const daysOfMonth = sorted(dom, DAY_OF_MONTH)
  if (dom !== undefined && dow === undefined) {
    const longest = Math.max(...months.map((m) => DAYS_IN_MONTH[m - 1] as number))
    if (daysOfMonth[0] !== undefined && daysOfMonth[0] > longest) {
      throw new CronParseError('schedule never fires: no selected month has the selected day', { expression: source, field: 'day-of-month' })
    }
  }
  return {
    source,
    seconds: offset === 1 ? sorted(sets[0], SECOND) : [0],
    minutes: sorted(sets[offset], MINUTE),
    hours: sorted(sets[offset + 1], HOUR),
    daysOfMonth,
    months,
    daysOfWeek,
    daysOfMonthRestricted: dom !== undefined,
    daysOfWeekRestricted: dow !== undefined
  }
}
