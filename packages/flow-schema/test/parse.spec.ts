import fc from 'fast-check'
import { parse as yamlParse } from 'yaml'
import { describe, expect, it } from 'vitest'
import { detectFlowFormat, FlowParseError, parseFlow } from '../src/index.js'
import { fixture } from './fixtures/flows.js'

function parseError(fn: () => unknown): FlowParseError {
  try {
    fn()
  } catch (err) {
    expect((err as Error).name).toBe('FlowParseError')
    expect(err).toBeInstanceOf(FlowParseError)
    return err as FlowParseError
  }
  throw new Error('expected a FlowParseError')
}

describe('parseFlow', () => {
  it('reads the same value from YAML and JSON', () => {
    const fromYaml = parseFlow(fixture('order-flow.yaml'))
    expect(fromYaml).toEqual(yamlParse(fixture('order-flow.yaml')))
    const fromJson = parseFlow(JSON.stringify(fromYaml, null, 2))
    expect(fromJson).toEqual(fromYaml)
    expect(parseFlow(JSON.stringify(fromYaml), { format: 'yaml' })).toEqual(fromYaml)
  })

  it('detects the format from the first significant character', () => {
    expect(detectFlowFormat('  \n{"a":1}')).toBe('json')
    expect(detectFlowFormat('\ufeff[1]')).toBe('json')
    expect(detectFlowFormat('id: x')).toBe('yaml')
    expect(detectFlowFormat('# comment\n{a: 1}')).toBe('yaml')
  })

  it('ignores a byte order mark', () => {
    expect(parseFlow('\ufeffid: x\n')).toEqual({ id: 'x' })
    expect(parseFlow('\ufeff{"id":"x"}')).toEqual({ id: 'x' })
  })

  it('rejects duplicate keys in JSON with the position of the second key', () => {
    const err = parseError(() => parseFlow('{\n  "id": "a",\n  "steps": [],\n  "id": "b"\n}'))
    expect(err.code).toBe('duplicate-key')
    expect(err.format).toBe('json')
    expect([err.line, err.column]).toEqual([4, 3])
  })

  it('rejects duplicate keys in YAML, nested or not, with the position', () => {
    const err = parseError(() => parseFlow('id: a\nsteps:\n  - id: s\n    type: task\n    id: t\n'))
    expect(err.code).toBe('duplicate-key')
    expect(err.format).toBe('yaml')
    expect([err.line, err.column]).toEqual([5, 5])
    // keys that differ as YAML scalars but collide as JSON strings
    expect(parseError(() => parseFlow('a:\n  1: x\n  "1": y\n')).code).toBe('duplicate-key')
  })

  it('reports malformed JSON with line and column', () => {
    const cases: [string, number, number][] = [
      ['{"a": 1,}', 1, 9],
      ['{"a" 1}', 1, 6],
      ['{\n  "a": [1, 2\n}', 3, 1],
      ['{"a": tru}', 1, 7],
      ['{"a": "x\ny"}', 1, 9],
      ['{"a": "\\q"}', 1, 8],
      ['', 1, 1],
      ['{"a": 1} x', 1, 10],
      ['{"a": 01}', 1, 8]
    ]
    for (const [text, line, column] of cases) {
      const err = parseError(() => parseFlow(text, { format: 'json' }))
      expect([err.line, err.column], text).toEqual([line, column])
    }
  })

  it('reports malformed YAML with line and column', () => {
    const err = parseError(() => parseFlow('id: x\nsteps:\n  - id: a\n   type: task\n'))
    expect(err.format).toBe('yaml')
    expect(err.line).toBe(4)
    expect(err.column).toBeGreaterThanOrEqual(1)
    const unclosed = parseError(() => parseFlow('id: x\nname: [a, b\nversion: 1\n'))
    expect(unclosed.line).toBeGreaterThanOrEqual(2)
    const twoDocs = parseError(() => parseFlow('id: a\n---\nid: b\n'))
    expect(twoDocs.line).toBe(2)
  })

  it('rejects YAML values JSON cannot hold', () => {
    expect(parseError(() => parseFlow('a: .inf\n')).code).toBe('not-json')
    expect(parseError(() => parseFlow('a: [1, .nan]\n')).code).toBe('not-json')
    const complexKey = parseError(() => parseFlow('? [a, b]\n: 1\n'))
    expect(complexKey.code).toBe('not-json')
    expect(complexKey.line).toBe(1)
  })

  it('turns scalar keys into strings as JSON does, and keeps __proto__ as a plain member', () => {
    expect(parseFlow('codes:\n  200: ok\n  true: yes\n')).toEqual({ codes: { '200': 'ok', true: 'yes' } })
    const doc = parseFlow('__proto__:\n  polluted: 1\n') as Record<string, unknown>
    expect(Object.getPrototypeOf(doc)).toBe(Object.prototype)
    expect(Object.keys(doc)).toEqual(['__proto__'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    const json = parseFlow('{"__proto__": {"polluted": 1}}') as Record<string, unknown>
    expect(Object.keys(json)).toEqual(['__proto__'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('expands a few aliases but stops a billion-laughs document fast', () => {
    expect(parseFlow('base: &b {x: 1}\ncopy: *b\n')).toEqual({ base: { x: 1 }, copy: { x: 1 } })
    const laughs = [
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
      'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
      'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]'
    ].join('\n')
    const err = parseError(() => parseFlow(laughs))
    expect(err.code).toBe('too-many-aliases')
    expect(err.line).toBeGreaterThan(1)
    // few aliases with a large expansion are stopped by the expansion bound
    const wide = `a: &a [${Array.from({ length: 200 }, (_, i) => i).join(', ')}]\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n`
    expect(parseError(() => parseFlow(wide, { maxAliasExpansion: 1000 })).code).toBe('too-many-aliases')
    expect(parseError(() => parseFlow('a: &x 1\nb: [*x, *x, *x]\n', { maxAliases: 2 })).code).toBe('too-many-aliases')
  })

  it('bounds nesting depth in JSON and YAML without overflowing the stack', () => {
    const deepJson = `${'['.repeat(100_000)}${']'.repeat(100_000)}`
    const err = parseError(() => parseFlow(deepJson))
    expect(err.code).toBe('too-deep')
    expect([err.line, err.column]).toEqual([1, 257])
    expect(parseFlow(`${'['.repeat(200)}${']'.repeat(200)}`)).toBeInstanceOf(Array)
    expect(parseError(() => parseFlow('{"a":[[[1]]]}', { maxDepth: 3 })).code).toBe('too-deep')
    const deepFlowYaml = `a: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`
    expect(parseError(() => parseFlow(deepFlowYaml)).name).toBe('FlowParseError')
    const deepBlockYaml = `${Array.from({ length: 400 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} 1\n`
    expect(parseError(() => parseFlow(deepBlockYaml)).code).toBe('too-deep')
    expect(parseError(() => parseFlow('a:\n  b:\n    c: 1\n', { maxDepth: 2 })).code).toBe('too-deep')
  })

  it('refuses documents larger than maxBytes, counting UTF-8 bytes', () => {
    expect(parseError(() => parseFlow(`id: ${'x'.repeat(100)}`, { maxBytes: 50 })).code).toBe('too-large')
    // 30 characters, 90 bytes
    expect(parseError(() => parseFlow(`a: ${'€'.repeat(30)}`, { maxBytes: 60 })).code).toBe('too-large')
    expect(parseFlow(`a: ${'€'.repeat(10)}`, { maxBytes: 60 })).toEqual({ a: '€'.repeat(10) })
  })

  it('handles CRLF line ends and tabs like the YAML parser', () => {
    expect(parseFlow('id: x\r\nsteps:\r\n  - id: a\r\n')).toEqual({ id: 'x', steps: [{ id: 'a' }] })
    expect(parseFlow('id: x\nname: "a\tb"\n')).toEqual({ id: 'x', name: 'a\tb' })
  })

  it('reads any JSON exactly as JSON.parse does', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(undefined, 1, '\t'), (value, space) => {
        const text = JSON.stringify(value, null, space)
        expect(parseFlow(text, { format: 'json' })).toEqual(JSON.parse(text))
      }),
      { numRuns: 2000 }
    )
  })

  it('gives a FlowParseError or a value, never another error, for any text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.json()), (text) => {
        try {
          parseFlow(text)
        } catch (err) {
          expect((err as Error).name).toBe('FlowParseError')
          expect((err as FlowParseError).line).toBeGreaterThanOrEqual(1)
          expect((err as FlowParseError).column).toBeGreaterThanOrEqual(1)
        }
      }),
      { numRuns: 3000 }
    )
  })

  it('gives a FlowParseError with a position for mutilated flow documents', () => {
    const yaml = fixture('order-flow.yaml')
    const json = JSON.stringify(yamlParse(yaml), null, 2)
    fc.assert(
      fc.property(fc.boolean(), fc.nat(), fc.nat({ max: 20 }), fc.string({ maxLength: 3 }), (useJson, at, remove, insert) => {
        const text = useJson ? json : yaml
        const i = at % text.length
        const mutated = text.slice(0, i) + insert + text.slice(i + remove)
        try {
          const value = parseFlow(mutated)
          // whatever parses must be what the reference parser reads
          if (!useJson) expect(value).toEqual(yamlParse(mutated))
          else expect(value).toEqual(JSON.parse(mutated))
        } catch (err) {
          expect((err as Error).name).toBe('FlowParseError')
          expect((err as FlowParseError).line).toBeGreaterThanOrEqual(1)
        }
      }),
      { numRuns: 1500 }
    )
  })
})
