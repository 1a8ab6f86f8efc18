import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js'
import flowSchemaJson from '../schema/flow.schema.json' with { type: 'json' }
import { createAjv } from './json-schema.js'
import { escapePointerToken } from './pointer.js'
import type { FlowProblem } from './types.js'

/** The flow document's JSON Schema (draft 2020-12), as shipped in `schema/flow.schema.json`. */
export const flowSchema: { readonly [keyword: string]: unknown } = flowSchemaJson

/** `$id` of {@link flowSchema}. */
export const FLOW_SCHEMA_ID: string = flowSchemaJson.$id

let validator: ValidateFunction | undefined

/** The compiled flow schema (compiled once, on first use). */
export function flowSchemaValidator(): ValidateFunction {
  if (validator === undefined) {
    const ajv = createAjv({ allErrors: true, discriminator: true, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true })
    ajv.addKeyword('x-error-message')
    validator = ajv.compile(flowSchemaJson)
  }
  return validator
}

const STEP_TYPES = ['task', 'condition', 'parallel', 'event-trigger', 'module-call', 'sub-flow']
const TRIGGER_TYPES = ['manual', 'webhook', 'event', 'schedule']

function typeOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

function quoteList(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join(', ')
}

/**
 * Edit distance with adjacent transpositions (optimal string alignment), bounded: returns
 * `max + 1` as soon as it is exceeded.
 */
export function editDistance(a: string, b: string, max = 3): number {
  if (Math.abs(a.length - b.length) > max) return max + 1
  let prevPrev: number[] = []
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    let rowMin = i
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, (prevPrev[j - 2] as number) + 1)
      cur.push(v)
      if (v < rowMin) rowMin = v
    }
    if (rowMin > max) return max + 1
    prevPrev = prev
    prev = cur
  }
  return prev[b.length] as number
}

/** The closest of `candidates` to `word` (case-insensitively), if close enough to be a likely typo. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  // short words are too easy to confuse: suggest only for 3 characters or more
  let bestDistance = word.length < 3 ? 0 : Math.min(3, Math.max(1, Math.floor(word.length / 3)))
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase(), bestDistance)
    if (d <= bestDistance && (best === undefined || d < bestDistance)) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates)
  return s === undefined ? '' : ` (did you mean "${s}"?)`
}

function childPointer(parent: string, token: string): string {
  return `${parent}/${escapePointerToken(token)}`
}

/**
 * Turns ajv's errors into problems with useful pointers and messages: a missing or unknown field
 * points at that field, a failed legacy alternative or `anyOf` gives one message rather than one per
 * branch, and a bad step or trigger `type` says which types exist.
 */
export function schemaProblems(errors: readonly ErrorObject[]): FlowProblem[] {
  // collapse anyOf failures that carry their own message: drop their branches' errors
  const collapsed = new Set<ErrorObject>()
  for (const e of errors) {
    if (e.keyword !== 'anyOf') continue
    const message = (e.parentSchema as Record<string, unknown> | undefined)?.['x-error-message']
    if (typeof message !== 'string') continue
    const prefix = `${e.schemaPath}/`
    for (const other of errors) {
      if (other !== e && other.schemaPath.startsWith(prefix) && (other.instancePath === e.instancePath || other.instancePath.startsWith(`${e.instancePath}/`))) {
        collapsed.add(other)
      }
    }
  }
  // a missing "type" is reported by both `required` and the discriminator: keep the former
  const problems: FlowProblem[] = []
  const seen = new Set<string>()
  const push = (p: FlowProblem): void => {
    const key = `${p.pointer}\u0000${p.code}`
    if (seen.has(key)) return
    seen.add(key)
    problems.push(p)
  }
  for (const e of errors) {
    if (collapsed.has(e)) continue
    const at = e.instancePath
    const params = e.params as Record<string, unknown>
    const parent = e.parentSchema as Record<string, unknown> | undefined
    const custom = typeof parent?.['x-error-message'] === 'string' ? (parent['x-error-message'] as string) : undefined
    switch (e.keyword) {
      case 'required': {
        const field = String(params.missingProperty)
        push({ pointer: childPointer(at, field), code: 'missing-field', message: `missing required field "${field}"` })
        break
      }
      case 'additionalProperties': {
        const field = String(params.additionalProperty)
        const known = Object.keys((parent?.properties as Record<string, unknown> | undefined) ?? {})
        push({ pointer: childPointer(at, field), code: 'unknown-field', message: `unknown field "${field}"${didYouMean(field, known)}` })
        break
      }
      case 'discriminator': {
        const list = /^\/triggers\/\d+$/.test(at) ? TRIGGER_TYPES : STEP_TYPES
        const what = list === TRIGGER_TYPES ? 'trigger' : 'step'
        if (params.error === 'mapping') {
          const value = String(params.tagValue)
          push({
            pointer: childPointer(at, 'type'),
            code: `unknown-${what}-type`,
            message: `unknown ${what} type "${value}"${didYouMean(value, list)}; expected one of ${quoteList(list)}`
          })
        } else if (e.data !== null && typeof e.data === 'object' && Object.hasOwn(e.data, 'type')) {
          push({ pointer: childPointer(at, 'type'), code: 'wrong-type', message: `${what} type must be a string, one of ${quoteList(list)}` })
        } else {
          push({ pointer: childPointer(at, 'type'), code: 'missing-field', message: 'missing required field "type"' })
        }
        break
      }
      case 'anyOf': {
        const branches = (parent?.anyOf as { required?: string[] }[] | undefined) ?? []
        const firstRequired = branches[0]?.required?.[0]
        if (custom !== undefined && firstRequired !== undefined && branches.every((b) => Array.isArray(b.required))) {
          push({ pointer: childPointer(at, firstRequired), code: 'missing-field', message: custom })
        } else {
          push({ pointer: at, code: 'invalid-value', message: custom ?? 'matches none of the allowed forms' })
        }
        break
      }
      case 'type': {
        const expected = Array.isArray(params.type) ? (params.type as string[]).join(' or ') : String(params.type)
        push({ pointer: at, code: 'wrong-type', message: `must be ${expected}, got ${typeOf(e.data)}` })
        break
      }
      case 'enum':
        push({ pointer: at, code: 'invalid-value', message: `must be one of ${quoteList(params.allowedValues as unknown[])}` })
        break
      case 'const':
        push({ pointer: at, code: 'invalid-value', message: `must be ${JSON.stringify(params.allowedValue)}` })
        break
      case 'pattern':
      case 'format':
        push({ pointer: at, code: 'invalid-format', message: custom ?? `must be a valid ${e.keyword === 'format' ? String(params.format) : `string matching ${String(params.pattern)}`}` })
        break
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        push({ pointer: at, code: 'out-of-range', message: `must be ${String(params.comparison)} ${String(params.limit)}` })
        break
      case 'minLength':
        push({ pointer: at, code: 'out-of-range', message: Number(params.limit) === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters long` })
        break
      case 'maxLength':
        push({ pointer: at, code: 'out-of-range', message: `must be at most ${String(params.limit)} characters long` })
        break
      case 'minItems':
        push({ pointer: at, code: 'out-of-range', message: Number(params.limit) === 1 ? 'must not be empty' : `must have at least ${String(params.limit)} items` })
        break
      case 'maxItems':
        push({ pointer: at, code: 'out-of-range', message: `must have at most ${String(params.limit)} items` })
        break
      default:
        push({ pointer: at, code: 'schema', message: e.message ?? `fails "${e.keyword}"` })
    }
  }
  return problems
}
