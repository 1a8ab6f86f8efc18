import fc from 'fast-check'
import { parse as yamlParse, stringify } from 'yaml'
import { describe, expect, it } from 'vitest'
import { BAIL, parseYamlFast } from '../src/yaml-fast.js'
import { fixture } from './fixtures/flows.js'

/** What the full parser reads, or `undefined` when it reports an error or a warning. */
function reference(text: string): { value: unknown } | undefined {
  try {
    return { value: yamlParse(text, { version: '1.2', schema: 'core', uniqueKeys: true, strict: true, prettyErrors: false }) }
  } catch {
    return undefined
  }
}

/** The fast path must either give up or read exactly what the yaml package reads. */
function agrees(text: string): boolean {
  const fast = parseYamlFast(text)
  if (fast === BAIL) return false
  const ref = reference(text)
  expect(ref, `fast path accepted text the yaml package rejects:\n${text}`).toBeDefined()
  expect(fast).toEqual(ref?.value)
  return true
}

const key = fc.oneof(
  fc.constantFrom('id', 'type', 'on', 'yes', 'null', 'true', '1', '0x1F', 'a b', 'x-y', 'a:b', 'a#b', '#c', '- d', '"q"', "it's", '', '~', '.inf', '__proto__', '<<'),
  fc.string({ maxLength: 8 })
)
const scalar = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('', ' ', 'null', '~', 'yes', 'no', 'True', '1.0', '1.2.3', '0o17', '0x1f', '1e3', '-0', '.5', '+1', '007', 'a: b', 'a #b', '#x', '- x', '{{ $.a }}', "'", '"', '\\', 'a\nb', 'a\n\nb\n', ' lead', 'trail ', '@x', '`x', '|', '>', '&a', '*a', '!t', '%x', 'é€😀'),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null)
)
const value = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, scalar, tie('array'), tie('object')),
  array: fc.array(tie('node'), { maxLength: 4 }),
  object: fc.dictionary(key, tie('node'), { maxKeys: 5 })
})).node

const stringifyOptions = fc.record({
  indent: fc.constantFrom(2, 4),
  indentSeq: fc.boolean(),
  lineWidth: fc.constantFrom(0, 20, 80),
  defaultStringType: fc.constantFrom('PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE', 'BLOCK_LITERAL', 'BLOCK_FOLDED'),
  defaultKeyType: fc.constantFrom(null, 'PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE'),
  collectionStyle: fc.constantFrom('any', 'block', 'flow'),
  flowCollectionPadding: fc.boolean()
})

describe('fast YAML path', () => {
  it('reads the flow fixtures itself, exactly as the yaml package does', () => {
    expect(agrees(fixture('order-flow.yaml'))).toBe(true)
  })

  it('reads the common forms', () => {
    const cases = [
      'a: 1\nb: -2.5e3\nc: true\nd: ~\ne:\nf: text with spaces  # comment\n',
      'list:\n- a\n- b\nnext: 1\n',
      'list:\n  - a: 1\n    b: [x, "y", \'z\']\n  - {c: 3, "d e": null}\n',
      'lit: |\n  line 1\n    indented\n\n  line 3\n\nkeep: |+\n  x\n\nstrip: >-\n  folded\n  text\n\n  para\nend: 1\n',
      '---\n# leading comment\nkey: "esc \\" \\\\ \\n \\u00e9"\nq: \'it\'\'s\'\n',
      'empty: []\nobj: {}\nnested:\n  - - 1\n'
    ]
    for (const text of cases) {
      const fast = parseYamlFast(text)
      const ref = reference(text)
      if (fast !== BAIL) expect(fast, text).toEqual(ref?.value)
    }
    expect(parseYamlFast(cases[0] as string)).not.toBe(BAIL)
    expect(parseYamlFast(cases[2] as string)).not.toBe(BAIL)
    expect(parseYamlFast(cases[3] as string)).not.toBe(BAIL)
  })

  it('gives up on what it does not handle', () => {
    for (const text of [
      'a: &x 1\nb: *x\n',
      'a: !!str 1\n',
      'a: 1\na: 2\n',
      '? a\n: 1\n',
      'a: multi\n  line plain\n',
      'a: "multi\n  line"\n',
      '%YAML 1.2\n---\na: 1\n',
      'a: 1\n---\nb: 2\n',
      'a:\tb\n',
      'a: .inf\n',
      '1: x\n',
      'scalar only\n',
      '[1, 2]\n',
      'a: [1, 2,]\n',
      '__proto__: 1\n'
    ]) {
      expect(parseYamlFast(text), text).toBe(BAIL)
    }
  })

  it('agrees with the yaml package on every document it accepts (generated with stringify)', () => {
    let accepted = 0
    fc.assert(
      fc.property(fc.dictionary(key, value, { minKeys: 1, maxKeys: 6 }), stringifyOptions, (doc, options) => {
        let text: string
        try {
          text = stringify(doc, null, options as unknown as Exclude<Parameters<typeof stringify>[2], string | number | undefined>)
        } catch {
          return
        }
        if (agrees(text)) accepted++
      }),
      { numRuns: 4000 }
    )
    expect(accepted).toBeGreaterThan(400)
  })

  it('handles nearly every block-style document with ordinary keys and values', () => {
    const word = fc.stringMatching(/^[a-z][a-zA-Z0-9_-]{0,10}$/)
    const text = fc.stringMatching(/^[A-Za-z0-9 .,/:{}$'()_-]{0,30}$/)
    const plainValue = fc.oneof(text, word, fc.integer(), fc.boolean(), fc.constant(null), fc.double({ noNaN: true, noDefaultInfinity: true }))
    const ordinary = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, plainValue, tie('array'), tie('object')),
      array: fc.array(tie('node'), { maxLength: 4 }),
      object: fc.dictionary(word, tie('node'), { maxKeys: 5 })
    })).node
    let accepted = 0
    let runs = 0
    fc.assert(
      fc.property(fc.dictionary(word, ordinary, { minKeys: 1, maxKeys: 6 }), fc.boolean(), fc.constantFrom(2, 4), (doc, indentSeq, indent) => {
        runs++
        if (agrees(stringify(doc, { indentSeq, indent, lineWidth: 0 }))) accepted++
      }),
      { numRuns: 2000 }
    )
    expect(accepted / runs).toBeGreaterThan(0.95)
  })

  it('agrees with the yaml package on mutilated documents', () => {
    const base = fixture('order-flow.yaml')
    const pieces = [' ', '\n', '- ', ': ', '#', '"', "'", '|', '>', '[', ']', '{', '}', ',', '&a ', '*a', '!', '  ', 'x', '---\n', '\t', '\r\n']
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.nat({ max: 6 }), fc.constantFrom(...pieces)), { minLength: 1, maxLength: 4 }), (edits) => {
        let text = base
        for (const [at, remove, insert] of edits) {
          const i = at % text.length
          text = text.slice(0, i) + insert + text.slice(i + remove)
        }
        agrees(text)
      }),
      { numRuns: 3000 }
    )
  })
})
