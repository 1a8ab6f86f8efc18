import { compileExpression, compileFastExpression, FAST_PATH_DECLINED, templateExpression } from '@qflow/flow-schema'
import { plainData } from './plain-data.js'

/** What an expression sees as `$`. */
export interface ExpressionContext {
  input: unknown
  steps: Record<string, { output?: unknown; status: string; error?: unknown }>
  execution: { id: string; startedAt: number; actor: string }
  flow: { id: string; version: string }
  /** The event that ended an event-trigger wait, inside that step's own filter. */
  event?: unknown
}

const hasTemplate = new WeakMap<object, boolean>()

function containsTemplate(value: unknown): boolean {
  if (typeof value === 'string') return templateExpression(value) !== undefined
  if (value === null || typeof value !== 'object') return false
  const known = hasTemplate.get(value)
  if (known !== undefined) return known
  const found = Array.isArray(value) ? value.some(containsTemplate) : Object.values(value).some(containsTemplate)
  hasTemplate.set(value, found)
  return found
}

/**
 * Evaluates one JSONata expression against the context: synchronously on the fast path when the
 * expression and the context allow it (the same result), else with JSONata.
 */
export async function evaluateExpression(text: string, context: ExpressionContext): Promise<unknown> {
  const fast = compileFastExpression(text)
  if (fast !== undefined) {
    const result = fast(context)
    if (result !== FAST_PATH_DECLINED) return plainData(result)
  }
  return plainData(await compileExpression(text).evaluate(context))
}

/**
 * Evaluates every whole-string `{{ … }}` template in a params value (at any depth); everything
 * else is returned as it is. Values without templates are returned without copying.
 */
export async function evaluateTemplates(value: unknown, context: ExpressionContext): Promise<unknown> {
  if (!containsTemplate(value)) return value
  if (typeof value === 'string') return evaluateExpression(templateExpression(value) as string, context)
  if (Array.isArray(value)) return Promise.all(value.map((v) => evaluateTemplates(v, context)))
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = await evaluateTemplates(v, context)
  return out
}
