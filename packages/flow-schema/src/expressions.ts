import jsonata from 'jsonata'
import { EXPRESSION_CACHE_SIZE, MAX_EXPRESSION_LENGTH } from './constants.js'
import { FlowExpressionError } from './errors.js'
import type { FastExpression } from './fast-expression.js'
import { LruCache } from './lru.js'

/** A compiled JSONata expression (shared through the cache: pass bindings to `evaluate`, never call `assign`). */
export type CompiledExpression = jsonata.Expression

/**
 * A cached expression. `fast` is its synchronous fast path, compiled on first use by
 * `compileFastExpression` (`null`: outside the fast path's subset).
 */
export type ExpressionEntry = { ok: true; expression: CompiledExpression; fast?: FastExpression | null } | { ok: false; error: FlowExpressionError }

const cache = new LruCache<string, ExpressionEntry>(EXPRESSION_CACHE_SIZE)

function compileUncached(text: string): ExpressionEntry {
  if (text.length > MAX_EXPRESSION_LENGTH) {
    return {
      ok: false,
      error: new FlowExpressionError(`expression is longer than ${MAX_EXPRESSION_LENGTH} characters`, { expression: text, code: 'too-long' })
    }
  }
  try {
    return { ok: true, expression: jsonata(text) }
  } catch (err) {
    if (err instanceof RangeError) {
      return { ok: false, error: new FlowExpressionError('expression nests too deeply', { expression: text, code: 'too-deep' }) }
    }
    const e = err as { code?: unknown; position?: unknown; message?: unknown; token?: unknown }
    const position = typeof e.position === 'number' ? e.position : undefined
    const message = typeof e.message === 'string' ? e.message : 'invalid expression'
    const init: { expression: string; code: string; position?: number } = { expression: text, code: typeof e.code === 'string' ? e.code : 'syntax' }
    if (position !== undefined) init.position = position
    return {
      ok: false,
      error: new FlowExpressionError(`JSONata ${init.code}${position === undefined ? '' : ` at position ${position}`}: ${message}`, init)
    }
  }
}

/** The cache entry of an expression's text, compiled on first use (internal to this package). */
export function cachedExpression(text: string): ExpressionEntry {
  let entry = cache.get(text)
  if (entry === undefined) {
    entry = compileUncached(text)
    cache.set(text, entry)
  }
  return entry
}

/**
 * Compiles a JSONata expression, through a shared cache (the same text compiles once). The result
 * is shared by every caller: evaluate it with bindings (`expr.evaluate(input, bindings)`) and never
 * mutate it with `assign` or `registerFunction`.
 *
 * @throws {@link FlowExpressionError} on a syntax error (with JSONata's code and position).
 */
export function compileExpression(text: string): CompiledExpression {
  const entry = cachedExpression(text)
  if (!entry.ok) throw entry.error
  return entry.expression
}

/** Like {@link compileExpression} but returns the error instead of throwing it. */
export function checkExpression(text: string): FlowExpressionError | undefined {
  const entry = cachedExpression(text)
  return entry.ok ? undefined : entry.error
}

const TEMPLATE = /^\s*\{\{([\s\S]*)\}\}\s*$/

/**
 * The JSONata text of a template value: a string that is entirely `{{ … }}` (surrounding
 * whitespace allowed) is an expression, and this returns what is between the braces. Any other
 * value (including strings that merely contain `{{`) gives `undefined` and is a literal.
 */
export function templateExpression(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  // cheap pre-check before the regular expression
  const first = value.indexOf('{{')
  if (first === -1) return undefined
  const m = TEMPLATE.exec(value)
  return m === null ? undefined : (m[1] as string)
}

/** A template expression found in a value, with where it is. */
export interface TemplateLocation {
  /** JSON pointer from the value's root to the string (`''` for the value itself). */
  pointer: string
  /** The JSONata text between the braces. */
  expression: string
}

function escapeToken(key: string): string {
  return key.includes('~') || key.includes('/') ? key.replaceAll('~', '~0').replaceAll('/', '~1') : key
}

/**
 * Calls `visit` for every `{{ … }}` template string in a JSON value, at any depth, without
 * recursion; `pointer()` builds the JSON pointer of the string (relative to `value`) on demand.
 * Memory stays linear in the size of the value; an object reached twice (a shared or cyclic
 * reference, which parsed JSON never has) is visited once, and `maxNodes` bounds the walk.
 */
export function forEachTemplate(value: unknown, visit: (expression: string, pointer: () => string) => void, maxNodes = Number.POSITIVE_INFINITY): void {
  if (typeof value === 'string') {
    const expression = templateExpression(value)
    if (expression !== undefined) visit(expression, () => '')
    return
  }
  if (value === null || typeof value !== 'object') return
  // every container visited, with its parent and the token leading to it, to build pointers on demand
  const parents: number[] = []
  const tokens: string[] = []
  const nodes: unknown[] = [value]
  const from: number[] = [-1]
  const via: string[] = ['']
  let seen: WeakSet<object> | undefined
  let visited = 0
  while (nodes.length > 0 && visited < maxNodes) {
    const node = nodes.pop()
    const parent = from.pop() as number
    const token = via.pop() as string
    visited++
    if (typeof node === 'string') {
      const expression = templateExpression(node)
      if (expression !== undefined) {
        visit(expression, () => {
          const parts = [token]
          for (let i = parent; i > 0; i = parents[i] as number) parts.push(tokens[i] as string)
          return `/${parts.reverse().join('/')}`
        })
      }
      continue
    }
    const container = node as object
    // shared or cyclic references only come from code; track containers once the walk is not tiny
    if (visited > 64) {
      seen ??= new WeakSet()
      if (seen.has(container)) continue
      seen.add(container)
    }
    const self = parents.length
    parents.push(parent)
    tokens.push(token)
    if (Array.isArray(container)) {
      for (let i = container.length - 1; i >= 0; i--) {
        const child = container[i]
        if (typeof child === 'string' ? child.includes('{{') : child !== null && typeof child === 'object') {
          nodes.push(child)
          from.push(self)
          via.push(String(i))
        }
      }
    } else {
      const record = container as Record<string, unknown>
      const keys = Object.keys(record)
      for (let k = keys.length - 1; k >= 0; k--) {
        const key = keys[k] as string
        const child = record[key]
        if (typeof child === 'string' ? child.includes('{{') : child !== null && typeof child === 'object') {
          nodes.push(child)
          from.push(self)
          via.push(escapeToken(key))
        }
      }
    }
  }
}

/**
 * Finds every `{{ … }}` template string in a JSON value, at any depth, without recursion (see
 * {@link forEachTemplate}), in document order.
 */
export function findTemplates(value: unknown, maxNodes = Number.POSITIVE_INFINITY): TemplateLocation[] {
  const found: TemplateLocation[] = []
  forEachTemplate(value, (expression, pointer) => found.push({ pointer: pointer(), expression }), maxNodes)
  return found
}
