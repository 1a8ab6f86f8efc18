import { MAX_PATTERN_LENGTH, MAX_PATTERN_SEGMENTS, MAX_WILDCARDS_PER_SEGMENT } from './constants.js'
import { InvalidPatternError } from './errors.js'
import { hasLoneSurrogate } from './text.js'

/** How one `:` segment of a pattern matches. */
type SegmentMatcher =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'any' }
  | { readonly kind: 'glob'; readonly prefix: string; readonly middle: readonly string[]; readonly suffix: string; readonly minLength: number }

/**
 * A resource pattern compiled once: `qflow:flow:f1` (exact), `qflow:flow:*` (any one segment),
 * `qflow:flow:build-*` (`*` within a segment, never crossing a `:`), `qflow:**` (a trailing `**`:
 * one or more further segments), `**` (every resource).
 *
 * Matching walks the segments with plain string comparisons (`startsWith`, `indexOf`): no regular
 * expression is ever built from a pattern, so no pattern or resource can make matching slow.
 */
export interface ResourcePattern {
  /** The pattern as written. */
  readonly source: string
  /** Whether the pattern has no wildcard (it matches exactly one resource, itself). */
  readonly exact: boolean
  /** The leading segments without wildcards, joined by `:` (`qflow:flow` for `qflow:flow:*`). */
  readonly literalPrefix: string
  /** How many leading segments are literal. */
  readonly literalDepth: number
  /** Whether the pattern ends in `**`. */
  readonly rest: boolean
  /** The pattern's segments as written, without a trailing `**`. */
  readonly segments: readonly string[]
  /** Whether the pattern matches `resource`. */
  matches(resource: string): boolean
  /** Whether the pattern matches a resource already split on `:`. */
  matchesSegments(segments: readonly string[]): boolean
}

const FORBIDDEN_CHARACTERS = /[\s\u0000-\u001f\u007f]/

function compileSegment(segment: string, index: number, pattern: string): SegmentMatcher {
  if (segment === '') throw new InvalidPatternError('A pattern segment is empty', pattern, index)
  if (!segment.includes('*')) return { kind: 'literal', value: segment }
  if (segment === '*') return { kind: 'any' }
  if (segment.includes('**')) {
    throw new InvalidPatternError('`**` is only allowed as the whole last segment', pattern, index)
  }
  const parts = segment.split('*')
  if (parts.length - 1 > MAX_WILDCARDS_PER_SEGMENT) {
    throw new InvalidPatternError(`A segment may hold at most ${MAX_WILDCARDS_PER_SEGMENT} wildcards`, pattern, index)
  }
  const prefix = parts[0] as string
  const suffix = parts[parts.length - 1] as string
  const middle = parts.slice(1, -1)
  const minLength = parts.reduce((n, p) => n + p.length, 0)
  return { kind: 'glob', prefix, middle, suffix, minLength }
}

function matchSegment(matcher: SegmentMatcher, value: string): boolean {
  switch (matcher.kind) {
    case 'literal':
      return value === matcher.value
    case 'any':
      return value.length > 0
    case 'glob': {
      if (value.length < matcher.minLength) return false
      if (!value.startsWith(matcher.prefix) || !value.endsWith(matcher.suffix)) return false
      // With `*` as the only wildcard, taking each middle part at its leftmost place is optimal:
      // one left-to-right pass, no backtracking.
      let position = matcher.prefix.length
      const end = value.length - matcher.suffix.length
      for (const part of matcher.middle) {
        const at = value.indexOf(part, position)
        if (at < 0 || at + part.length > end) return false
        position = at + part.length
      }
      return position <= end
    }
  }
}

class CompiledPattern implements ResourcePattern {
  readonly exact: boolean
  readonly literalPrefix: string
  readonly literalDepth: number
  readonly rest: boolean
  readonly segments: readonly string[]
  private readonly matchers: readonly SegmentMatcher[]

  constructor(readonly source: string) {
    if (typeof source !== 'string' || source === '') throw new InvalidPatternError('A resource pattern must be a non-empty string', String(source))
    if (source.length > MAX_PATTERN_LENGTH) {
      throw new InvalidPatternError(`A resource pattern may be at most ${MAX_PATTERN_LENGTH} characters`, source)
    }
    if (FORBIDDEN_CHARACTERS.test(source)) throw new InvalidPatternError('A resource pattern may not hold whitespace or control characters', source)
    if (hasLoneSurrogate(source)) throw new InvalidPatternError('A resource pattern may not hold a lone UTF-16 surrogate', source)
    const raw = source.split(':')
    if (raw.length > MAX_PATTERN_SEGMENTS) {
      throw new InvalidPatternError(`A resource pattern may have at most ${MAX_PATTERN_SEGMENTS} segments`, source)
    }
    this.rest = raw[raw.length - 1] === '**'
    this.segments = this.rest ? raw.slice(0, -1) : raw
    this.matchers = this.segments.map((segment, i) => compileSegment(segment, i, source))
    let depth = 0
    while (depth < this.matchers.length && (this.matchers[depth] as SegmentMatcher).kind === 'literal') depth++
    this.literalDepth = depth
    this.literalPrefix = this.segments.slice(0, depth).join(':')
    this.exact = !this.rest && depth === this.matchers.length
  }

  matches(resource: string): boolean {
    if (this.exact) return resource === this.source
    return this.matchesSegments(resource.split(':'))
  }

  matchesSegments(segments: readonly string[]): boolean {
    const fixed = this.matchers.length
    if (this.rest ? segments.length <= fixed : segments.length !== fixed) return false
    for (let i = 0; i < fixed; i++) {
      if (!matchSegment(this.matchers[i] as SegmentMatcher, segments[i] as string)) return false
    }
    return true
  }
}

/**
 * Compiles a resource pattern.
 *
 * @throws {@link InvalidPatternError} when the pattern is malformed.
 */
export function compileResourcePattern(pattern: string): ResourcePattern {
  return new CompiledPattern(pattern)
}

/**
 * Whether every resource `target` matches is also matched by `holder` — judged conservatively
 * (a `false` may be a pattern pair that does cover, never the reverse). Authority checks use it:
 * holding `share` over `holder` lets one grant over `target`.
 */
export function patternCovers(holder: ResourcePattern, target: ResourcePattern): boolean {
  const h = holder.segments
  const t = target.segments
  for (let i = 0; ; i++) {
    if (i === h.length && holder.rest) return i < t.length || target.rest
    if (i === t.length && target.rest) return false
    if (i === h.length || i === t.length) return i === h.length && i === t.length
    const hs = h[i] as string
    const ts = t[i] as string
    if (hs === ts || hs === '*') continue
    if (!hs.includes('*')) return false
    if (ts.includes('*')) return false
    if (!matchSegment(compileSegment(hs, i, holder.source), ts)) return false
  }
}

/**
 * Whether some resource could match both patterns — judged conservatively (a `true` may be a
 * disjoint pair, never the reverse). Authority checks use it to let a deny rule block a grantor.
 */
export function patternsMayOverlap(a: ResourcePattern, b: ResourcePattern): boolean {
  const x = a.segments
  const y = b.segments
  for (let i = 0; ; i++) {
    if (i === x.length && a.rest) return i < y.length || b.rest
    if (i === y.length && b.rest) return i < x.length || a.rest
    if (i === x.length || i === y.length) return i === x.length && i === y.length
    const xs = x[i] as string
    const ys = y[i] as string
    const xWild = xs.includes('*')
    const yWild = ys.includes('*')
    if (!xWild && !yWild) {
      if (xs !== ys) return false
    } else if (xWild !== yWild) {
      const [glob, literal] = xWild ? [xs, ys] : [ys, xs]
      if (!matchSegment(compileSegment(glob, i, ''), literal)) return false
    }
  }
}
