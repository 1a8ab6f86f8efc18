import { evaluateExpression, type ExpressionContext } from '../engine/expressions.js'
import { type Action, type ActionContext, InvalidActionParamsError } from './action.js'

/**
 * `data.transform`: evaluates `expression` (JSONata, without braces) over `input`, or over the
 * step's scope (`{ input, steps, execution, flow }`) when no `input` is given, and outputs the result.
 */
export function dataTransformAction(): Action<{ expression?: unknown; input?: unknown }, unknown> {
  return {
    name: 'data.transform',
    sideEffects: false,
    async execute(params, context: ActionContext) {
      if (typeof params.expression !== 'string') throw new InvalidActionParamsError('data.transform', 'expression', 'a JSONata expression is required')
      return evaluateExpression(params.expression, ('input' in params ? params.input : context.scope) as ExpressionContext)
    }
  }
}

/** `log`: appends a line to the execution's log and returns it. */
export function logAction(): Action<{ message?: unknown; level?: unknown; data?: unknown }, { message: string; level: string }> {
  return {
    name: 'log',
    sideEffects: false,
    async execute(params, context: ActionContext) {
      const level = params.level === 'debug' || params.level === 'warn' || params.level === 'error' ? params.level : 'info'
      const message = typeof params.message === 'string' ? params.message : JSON.stringify(params.message ?? null)
      context.log(level, message, params.data)
      return { message, level }
    }
  }
}
