import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileResourcePattern, InvalidPatternError } from '../src/index.js'
import { patternCovers, patternsMayOverlap } from '../src/resource-pattern.js'

const p = compileResourcePattern

describe('resource patterns', () => {
  it('matches an exact resource and nothing else', () => {
    const pattern = p('qflow:flow:f1')
    expect(pattern.exact).toBe(true)
    expect(pattern.matches('qflow:flow:f1')).toBe(true)
    expect(pattern.matches('qflow:flow:f10')).toBe(false)
    expect(pattern.matches('qflow:flow')).toBe(false)
    expect(pattern.matches('qflow:flow:f1:x')).toBe(false)
  })

  it('matches one whole segment with *', () => {
    const pattern = p('qflow:flow:*')
    expect(pattern.exact).toBe(false)
    expect(pattern.literalPrefix).toBe('qflow:flow')
    expect(pattern.literalDepth).toBe(2)
    expect(pattern.matches('qflow:flow:f1')).toBe(true)
    expect(pattern.matches('qflow:flow:')).toBe(false)
    expect(pattern.matches('qflow:flow')).toBe(false)
    expect(pattern.matches('qflow:flow:f1:step')).toBe(false)
    expect(pattern.matches('qflow:exec:f1')).toBe(false)
  })

  it('matches * within a segment without crossing a colon', () => {
    const pattern = p('qflow:flow:build-*')
    expect(pattern.matches('qflow:flow:build-')).toBe(true)
    expect(pattern.matches('qflow:flow:build-42')).toBe(true)
    expect(pattern.matches('qflow:flow:build-4:2')).toBe(false)
    expect(pattern.matches('qflow:flow:rebuild-42')).toBe(false)
    const middle = p('qflow:exec:a*b*c')
    expect(middle.matches('qflow:exec:abc')).toBe(true)
    expect(middle.matches('qflow:exec:axxbyyc')).toBe(true)
    expect(middle.matches('qflow:exec:acb')).toBe(false)
    expect(middle.matches('qflow:exec:ab')).toBe(false)
    // Overlapping prefix and suffix must not share characters.
    expect(p('x:ab*ba').matches('x:aba')).toBe(false)
    expect(p('x:ab*ba').matches('x:abba')).toBe(true)
  })

  it('matches one or more further segments with a trailing **', () => {
    const pattern = p('qflow:**')
    expect(pattern.rest).toBe(true)
    expect(pattern.matches('qflow:flow:f1')).toBe(true)
    expect(pattern.matches('qflow:exec:e1:step:s1')).toBe(true)
    expect(pattern.matches('qflow:x')).toBe(true)
    expect(pattern.matches('qflow')).toBe(false)
    expect(pattern.matches('qindex:flow:f1')).toBe(false)
    expect(p('**').matches('anything:at:all')).toBe(true)
    expect(p('**').literalDepth).toBe(0)
    expect(p('qflow:*:f1:**').matches('qflow:exec:f1:s')).toBe(true)
  })

  it('takes regular-expression metacharacters literally', () => {
    const pattern = p('qflow:flow:(a+)+$.*')
    expect(pattern.matches('qflow:flow:(a+)+$.')).toBe(true)
    expect(pattern.matches('qflow:flow:(a+)+$.xyz')).toBe(true)
    expect(pattern.matches('qflow:flow:aaaa')).toBe(false)
    expect(p('a:[b]').matches('a:b')).toBe(false)
    expect(p('a:[b]').matches('a:[b]')).toBe(true)
  })

  it.each([
    ['', undefined],
    ['qflow::f1', 1],
    ['qflow:flow:', 2],
    ['qflow:**:f1', 1],
    ['qflow:a**', 1],
    ['qflow:flow:a*b*c*d*e*f*g*h*i*j', 2],
    ['qflow:flow:f 1', undefined],
    ['qflow:flow:f\n1', undefined],
    ['qflow:flow:\ud800', undefined],
    ['x'.repeat(1025), undefined],
    [Array.from({ length: 33 }, () => 'a').join(':'), undefined]
  ])('rejects %j', (pattern, segment) => {
    let caught: unknown
    try {
      p(pattern)
    } catch (err) {
      caught = err
    }
    expect((caught as Error).name).toBe('InvalidPatternError')
    expect(caught).toBeInstanceOf(InvalidPatternError)
    expect((caught as InvalidPatternError).segment).toBe(segment)
  })

  it('rejects what is not a string', () => {
    expect(() => p(42 as unknown as string)).toThrowError(expect.objectContaining({ name: 'InvalidPatternError' }))
  })

  it('judges coverage conservatively', () => {
    expect(patternCovers(p('qflow:**'), p('qflow:flow:*'))).toBe(true)
    expect(patternCovers(p('qflow:**'), p('qflow:**'))).toBe(true)
    expect(patternCovers(p('qflow:flow:*'), p('qflow:flow:f1'))).toBe(true)
    expect(patternCovers(p('qflow:flow:*'), p('qflow:flow:b-*'))).toBe(true)
    expect(patternCovers(p('qflow:flow:b-*'), p('qflow:flow:b-1'))).toBe(true)
    expect(patternCovers(p('qflow:flow:b-*'), p('qflow:flow:*'))).toBe(false)
    expect(patternCovers(p('qflow:*'), p('qflow:**'))).toBe(false)
    expect(patternCovers(p('qflow:flow:*'), p('qflow:flow:**'))).toBe(false)
    expect(patternCovers(p('qflow:flow:f1'), p('qflow:flow:*'))).toBe(false)
    expect(patternCovers(p('qflow:**'), p('qflow'))).toBe(false)
  })

  it('judges overlap conservatively', () => {
    expect(patternsMayOverlap(p('qflow:flow:f1'), p('qflow:flow:*'))).toBe(true)
    expect(patternsMayOverlap(p('qflow:flow:f1'), p('qflow:flow:f2'))).toBe(false)
    expect(patternsMayOverlap(p('qflow:flow:b-*'), p('qflow:flow:f2'))).toBe(false)
    expect(patternsMayOverlap(p('qflow:**'), p('qflow:flow:f2'))).toBe(true)
    expect(patternsMayOverlap(p('qflow:**'), p('qflow'))).toBe(false)
    expect(patternsMayOverlap(p('qflow:flow:*'), p('qflow:flow:*:x'))).toBe(false)
  })

  it('never throws while matching hostile resources', () => {
    const patterns = ['qflow:flow:*', 'qflow:**', '**', 'a*b*c:*', 'qflow:exec:x*', '(.*)+:*'].map(p)
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (resource) => {
        for (const pattern of patterns) expect(typeof pattern.matches(resource)).toBe('boolean')
      }),
      { numRuns: 500 }
    )
  })

  it('agrees with a reference glob on random segments', () => {
    const alphabet = fc.constantFrom('a', 'b', '*')
    const segment = fc.array(alphabet, { minLength: 1, maxLength: 6 }).map((chars) => chars.join('').replace(/\*{2,}/g, '*'))
    const text = fc.array(fc.constantFrom('a', 'b'), { maxLength: 8 }).map((chars) => chars.join(''))
    fc.assert(
      fc.property(segment, text, (glob, value) => {
        // Reference: a regex built from the (safe, two-letter) glob, only here in the test.
        const reference = glob === '*' ? value.length > 0 : new RegExp(`^${glob.replaceAll('*', '.*')}$`).test(value)
        expect(p(`r:${glob}`).matches(`r:${value}`)).toBe(reference)
      }),
      { numRuns: 2_000 }
    )
  })

  it('matches huge adversarial strings with a linear walk', () => {
    const many = 'a'.repeat(200_000)
    expect(p('x:a*a*a*a*a*a*a*b').matches(`x:${many}`)).toBe(false)
    expect(p('x:a*a*a*a*a*a*a*a').matches(`x:${many}`)).toBe(true)
    expect(p('x:**').matches(`x:${':'.repeat(100_000)}`)).toBe(true)
  })
})
