import type { CompiledGrant } from './grant.js'

function removeFrom(map: Map<string, CompiledGrant[]>, key: string, entry: CompiledGrant): boolean {
  const list = map.get(key)
  if (list === undefined) return false
  const at = list.indexOf(entry)
  if (at < 0) return false
  list.splice(at, 1)
  if (list.length === 0) map.delete(key)
  return true
}

function addTo(map: Map<string, CompiledGrant[]>, key: string, entry: CompiledGrant): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [entry])
  else list.push(entry)
}

/** Counts of small integers (depths, lengths) present, to know which keys are worth looking up. */
class Census {
  private readonly counts = new Map<number, number>()
  /** The values present, ascending. */
  values: number[] = []

  add(value: number): void {
    const n = this.counts.get(value) ?? 0
    this.counts.set(value, n + 1)
    if (n === 0) this.values = [...this.counts.keys()].sort((a, b) => a - b)
  }

  remove(value: number): void {
    const n = this.counts.get(value) ?? 0
    if (n <= 1) {
      this.counts.delete(value)
      this.values = [...this.counts.keys()].sort((a, b) => a - b)
    } else {
      this.counts.set(value, n - 1)
    }
  }
}

/**
 * The grants of one subject key, by resource: exact patterns in a map keyed by the resource,
 * wildcard patterns in a map keyed by their literal prefix (`qflow:flow` for `qflow:flow:*`).
 * A lookup costs one map probe plus one per distinct prefix depth present.
 */
class ResourceBucket {
  private readonly exact = new Map<string, CompiledGrant[]>()
  private readonly byPrefix = new Map<string, CompiledGrant[]>()
  private readonly depths = new Census()
  size = 0

  add(entry: CompiledGrant): void {
    const pattern = entry.pattern
    if (pattern.exact) addTo(this.exact, pattern.source, entry)
    else {
      addTo(this.byPrefix, pattern.literalPrefix, entry)
      this.depths.add(pattern.literalDepth)
    }
    this.size++
  }

  remove(entry: CompiledGrant): boolean {
    const pattern = entry.pattern
    const removed = pattern.exact ? removeFrom(this.exact, pattern.source, entry) : removeFrom(this.byPrefix, pattern.literalPrefix, entry)
    if (removed) {
      if (!pattern.exact) this.depths.remove(pattern.literalDepth)
      this.size--
    }
    return removed
  }

  /** Pushes the grants whose pattern could match `resource` (exact ones match; wildcard ones still need matching). */
  collect(resource: string, colons: ColonIndex, out: CompiledGrant[]): void {
    const exact = this.exact.get(resource)
    if (exact !== undefined) for (const entry of exact) out.push(entry)
    for (const depth of this.depths.values) {
      let prefix: string
      if (depth === 0) prefix = ''
      else {
        // A wildcard pattern with `depth` literal segments needs more than `depth` segments.
        const end = colons.at(depth - 1)
        if (end < 0) break
        prefix = resource.slice(0, end)
      }
      const list = this.byPrefix.get(prefix)
      if (list !== undefined) for (const entry of list) out.push(entry)
    }
  }

  /** Pushes every grant of the bucket. */
  all(out: CompiledGrant[]): void {
    for (const list of this.exact.values()) for (const entry of list) out.push(entry)
    for (const list of this.byPrefix.values()) for (const entry of list) out.push(entry)
  }
}

/** Positions of a resource's `:` separators, found lazily (a lookup rarely needs more than two). */
export class ColonIndex {
  private readonly positions: number[] = []
  private scanned = 0
  private done = false

  constructor(private readonly resource: string) {}

  /** The position of the `n`th (0-based) colon, or -1 when there are fewer. */
  at(n: number): number {
    while (this.positions.length <= n && !this.done) {
      const at = this.resource.indexOf(':', this.scanned)
      if (at < 0) this.done = true
      else {
        this.positions.push(at)
        this.scanned = at + 1
      }
    }
    return this.positions[n] ?? -1
  }
}

/**
 * The live grants, indexed by subject (exact identities in a map, `*`, and identity prefixes by
 * length) and, within a subject, by resource (exact resources in a map, wildcard patterns by their
 * literal prefix). A check looks at the grants that could apply, not at all of them.
 */
export class GrantIndex {
  private readonly byId = new Map<string, CompiledGrant>()
  private readonly bySubject = new Map<string, ResourceBucket>()
  private readonly anySubject = new ResourceBucket()
  private readonly byPrefixSubject = new Map<string, ResourceBucket>()
  private readonly prefixLengths = new Census()

  /** How many grants are indexed. */
  get size(): number {
    return this.byId.size
  }

  /** The grant with this id. */
  get(id: string): CompiledGrant | undefined {
    return this.byId.get(id)
  }

  /** Every indexed grant. */
  values(): IterableIterator<CompiledGrant> {
    return this.byId.values()
  }

  /** Adds a grant (its id must be new). */
  add(entry: CompiledGrant): void {
    this.byId.set(entry.grant.id, entry)
    this.bucketFor(entry, true).add(entry)
  }

  /** Removes a grant; whether it was there. */
  remove(id: string): CompiledGrant | undefined {
    const entry = this.byId.get(id)
    if (entry === undefined) return undefined
    this.byId.delete(id)
    const bucket = this.bucketFor(entry, false)
    bucket.remove(entry)
    if (bucket.size === 0) {
      if (entry.subject.kind === 'exact') this.bySubject.delete(entry.subject.value)
      else if (entry.subject.kind === 'prefix') {
        this.byPrefixSubject.delete(entry.subject.value)
        this.prefixLengths.remove(entry.subject.value.length)
      }
    }
    return entry
  }

  /** Pushes the grants that could apply to `subject` on `resource` into `out`. */
  candidates(subject: string, resource: string, out: CompiledGrant[]): void {
    const colons = new ColonIndex(resource)
    this.bySubject.get(subject)?.collect(resource, colons, out)
    if (this.anySubject.size > 0) this.anySubject.collect(resource, colons, out)
    for (const length of this.prefixLengths.values) {
      if (length > subject.length) break
      this.byPrefixSubject.get(subject.slice(0, length))?.collect(resource, colons, out)
    }
  }

  /** Pushes every grant whose subject matches `subject`, whatever its resource, into `out`. */
  subjectGrants(subject: string, out: CompiledGrant[]): void {
    this.bySubject.get(subject)?.all(out)
    this.anySubject.all(out)
    for (const length of this.prefixLengths.values) {
      if (length > subject.length) break
      this.byPrefixSubject.get(subject.slice(0, length))?.all(out)
    }
  }

  private bucketFor(entry: CompiledGrant, create: boolean): ResourceBucket {
    const subject = entry.subject
    if (subject.kind === 'any') return this.anySubject
    const map = subject.kind === 'exact' ? this.bySubject : this.byPrefixSubject
    let bucket = map.get(subject.value)
    if (bucket === undefined) {
      bucket = new ResourceBucket()
      if (create) {
        map.set(subject.value, bucket)
        if (subject.kind === 'prefix') this.prefixLengths.add(subject.value.length)
      }
    }
    return bucket
  }
}
