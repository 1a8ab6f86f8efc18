import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { assertValidFlow, type FlowValidationError, loadFlow, parseJsonPointer, resolveJsonPointer, validateFlow } from '../src/index.js'
import { fixture } from './fixtures/flows.js'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

const base = loadFlow(fixture('order-flow.yaml')) as unknown as Json
const legacy = JSON.parse(fixture('legacy-flow.json')) as Json

/** Every path (as reference tokens) to a value inside `doc`, down to 12 levels. */
function paths(doc: Json): (string | number)[][] {
  const out: (string | number)[][] = []
  const stack: [Json, (string | number)[]][] = [[doc, []]]
  while (stack.length > 0) {
    const [node, path] = stack.pop() as [Json, (string | number)[]]
    out.push(path)
    if (path.length >= 12) continue
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) stack.push([node[i] as Json, [...path, i]])
    }
    else if (node !== null && typeof node === 'object') for (const [k, v] of Object.entries(node)) stack.push([v, [...path, k]])
  }
  return out
}

function parentAndKey(doc: Json, path: (string | number)[]): [Json, string | number] | undefined {
  if (path.length === 0) return undefined
  let node = doc
  for (const token of path.slice(0, -1)) node = (node as Record<string, Json>)[token as string] as Json
  return [node, path[path.length - 1] as string | number]
}

function deepValue(): Json {
  let deep: Json = '{{ bottom }}'
  for (let i = 0; i < 5000; i++) deep = { nested: deep }
  return deep
}

const hostile = fc.oneof(
  fc.jsonValue() as fc.Arbitrary<Json>,
  // a fresh deep value each time: mutations must not leak from one run into the next
  fc.constant(null).map(deepValue),
  fc.constantFrom<Json>('x'.repeat(200_000), [], {}, null, -1, 1e308, '{{ ( }}', '{{ $.a }}', 'did:key:z6Mk', '', 'a@1.0.0', [[[]]], { type: 'task' })
)

type Mutation = (doc: Json, pick: number, value: Json) => void

const stepIds = (doc: Json): string[] => {
  const steps = (doc as { steps?: Json }).steps
  return Array.isArray(steps) ? steps.map((s) => (s as { id?: Json } | null)?.id).filter((id): id is string => typeof id === 'string') : []
}

const mutations: Record<string, Mutation> = {
  delete: (doc, pick) => {
    const all = paths(doc).filter((p) => p.length > 0)
    const target = parentAndKey(doc, all[pick % all.length] as (string | number)[])
    if (target === undefined) return
    const [parent, key] = target
    if (Array.isArray(parent)) parent.splice(key as number, 1)
    else delete (parent as Record<string, Json>)[key]
  },
  replace: (doc, pick, value) => {
    const all = paths(doc).filter((p) => p.length > 0)
    const target = parentAndKey(doc, all[pick % all.length] as (string | number)[])
    if (target !== undefined) (target[0] as Record<string, Json>)[target[1]] = value
  },
  addField: (doc, pick, value) => {
    const objects = paths(doc)
      .map((p) => [p, resolveJsonPointer(doc, p.length === 0 ? '' : `/${p.join('/')}`)] as const)
      .filter(([, v]) => v !== null && typeof v === 'object' && !Array.isArray(v))
    const [, target] = objects[pick % objects.length] as readonly [unknown, Record<string, Json>]
    // defined as an own member, as parsers do: `__proto__` must not change the prototype
    const key = ['onSuccess', 'bogus', 'type', 'branches', 'timeout', '__proto__', 'x-y'][pick % 7] as string
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true })
  },
  danglingRef: (doc, pick) => {
    const steps = (doc as { steps: Json[] }).steps
    if (!Array.isArray(steps) || steps.length === 0) return
    const step = steps[pick % steps.length] as Record<string, Json>
    if (step !== null && typeof step === 'object') step[['onSuccess', 'onFailure', 'onTrue', 'onTimeout'][pick % 4] as string] = `ghost-${pick}`
  },
  backEdge: (doc, pick) => {
    const steps = (doc as { steps: Json[] }).steps
    const ids = stepIds(doc)
    if (!Array.isArray(steps) || ids.length === 0) return
    const i = pick % steps.length
    const step = steps[i] as Record<string, Json>
    if (step !== null && typeof step === 'object') step[pick % 2 === 0 ? 'onSuccess' : 'onFailure'] = ids[(pick >> 1) % Math.max(1, Math.min(ids.length, i + 1))] as string
  },
  duplicateStep: (doc, pick) => {
    const steps = (doc as { steps: Json[] }).steps
    // a shallow copy: a step may hold a hostile value too deep for structuredClone
    const step = Array.isArray(steps) && steps.length > 0 ? steps[pick % steps.length] : undefined
    if (step !== undefined) steps.push(step !== null && typeof step === 'object' && !Array.isArray(step) ? { ...step } : step)
  },
  shuffleSteps: (doc, pick) => {
    const steps = (doc as { steps: Json[] }).steps
    if (Array.isArray(steps) && steps.length > 1) steps.unshift(...steps.splice(pick % steps.length, 1))
  },
  branchMember: (doc, pick) => {
    const steps = (doc as { steps: Json[] }).steps
    const ids = stepIds(doc)
    const parallel = Array.isArray(steps) ? steps.find((s) => (s as { type?: Json } | null)?.type === 'parallel') : undefined
    if (parallel && typeof parallel === 'object' && !Array.isArray(parallel) && ids.length > 0) {
      const branches = (parallel as { branches?: Json }).branches
      if (Array.isArray(branches)) branches.push([ids[pick % ids.length] as string])
    }
  }
}

describe('validation of mutated flows', () => {
  it('never crashes or hangs: every mutation gives a result whose problems point into the document', () => {
    const names = Object.keys(mutations)
    let invalid = 0
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.tuple(fc.constantFrom(...names), fc.nat(), hostile), { minLength: 1, maxLength: 5 }),
        (useLegacy, edits) => {
          const doc = structuredClone(useLegacy ? legacy : base)
          for (const [name, pick, value] of edits) (mutations[name] as Mutation)(doc, pick, value)
          const result = validateFlow(doc)
          expect(result.valid).toBe(result.errors.length === 0)
          for (const problem of [...result.errors, ...result.warnings]) {
            expect(typeof problem.code).toBe('string')
            expect(problem.message.length).toBeGreaterThan(0)
            expect(problem.pointer === '' || problem.pointer.startsWith('/')).toBe(true)
            // the problem's parent exists in the document (the value itself may be the missing one)
            const tokens = parseJsonPointer(problem.pointer)
            const parent = tokens.length <= 1 ? '' : `/${tokens.slice(0, -1).map((t) => t.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`
            if (problem.code !== 'too-many-problems') expect(resolveJsonPointer(doc, parent), `${problem.pointer} (${problem.code})`).toBeDefined()
          }
          if (!result.valid) {
            invalid++
            try {
              assertValidFlow(doc)
              expect.unreachable()
            } catch (err) {
              expect((err as Error).name).toBe('FlowValidationError')
              expect((err as FlowValidationError).problems).toEqual(result.errors)
            }
          } else {
            expect(result.flow).toBe(doc)
          }
        }
      ),
      { numRuns: 3000 }
    )
    expect(invalid).toBeGreaterThan(1500)
  })
})
