import type jsonata from 'jsonata'
import { cachedExpression } from './expressions.js'

/*
 * A synchronous evaluator for a conservative subset of JSONata (2.2.2), compiled from JSONata's own
 * AST into closures. Every function below mirrors the jsonata.js function named in its comment,
 * including JSONata's sequences (arrays flagged `sequence`, flattened by path steps, unwrapped to
 * `undefined` when empty and to their item when singletons at the end of every node's evaluation).
 * Where JSONata would throw, or where a case is not reproduced exactly (non-finite numbers,
 * stringifying objects, arrays as the input of an object constructor, a top-level array input…),
 * evaluation stops with FAST_PATH_DECLINED and the caller runs JSONata itself, which then
 * gives its own result or error.
 */

/** Returned by a {@link FastExpression} for an input it does not handle: evaluate the expression with JSONata instead. */
export const FAST_PATH_DECLINED: unique symbol = Symbol('qflow.fast-path-declined')

/**
 * A JSONata expression compiled to a synchronous closure: given an input, JSONata's value for it
 * (evaluated without bindings), or {@link FAST_PATH_DECLINED}. It never throws.
 */
export type FastExpression = (input: unknown) => unknown

/** The fields of JSONata's (processed) AST nodes that the subset reads. */
interface Node {
  type: string
  value?: unknown
  steps?: unknown
  expression?: unknown
  expressions?: unknown
  lhs?: unknown
  rhs?: unknown
  arguments?: unknown
  procedure?: unknown
  condition?: unknown
  then?: unknown
  else?: unknown
}
/** Evaluates a node for an input; throws FAST_PATH_DECLINED (and only that) to decline. */
type Evaluator = (input: unknown) => unknown
/** A value that may be one of JSONata's flagged arrays. */
type Flagged = unknown[] & { sequence?: unknown; keepSingleton?: unknown; cons?: unknown }
type Fields = Record<string, unknown>

function decline(): never {
  throw FAST_PATH_DECLINED
}

// createSequence (no `sequence` option: compileExpression passes no options)
function sequence(): unknown[] {
  const s = [] as unknown[] as Flagged
  s.sequence = true
  return s
}

// utils.isSequence
function isSequence(value: unknown): boolean {
  return Array.isArray(value) && (value as Flagged).sequence === true
}

// utils.isFunction: built-in and lambda functions are objects with these flags (also in data)
function isFunction(arg: unknown): boolean {
  if (typeof arg === 'function') return true
  if (!arg) return false
  const flags = arg as Fields
  return flags._jsonata_function === true || flags._jsonata_lambda === true
}

// utils.isNumeric: an infinite number makes JSONata throw D1001
function isNumeric(n: unknown): n is number {
  if (typeof n !== 'number' || Number.isNaN(n)) return false
  if (!Number.isFinite(n)) decline()
  return true
}

// the end of evaluate(): sequences are unwrapped (no tuple streams in the subset)
function unwrap(result: unknown): unknown {
  if (!isSequence(result)) return result
  const s = result as Flagged
  if (s.length === 0) return undefined
  if (s.length === 1) return s.keepSingleton ? s : s[0]
  return s
}

// Array.prototype.forEach skips holes: so do the places of JSONata that use it
function pushItems(target: unknown[], items: unknown[]): void {
  for (let i = 0; i < items.length; i++) {
    const v = items[i]
    if (v !== undefined || i in items) target.push(v)
  }
}

// fn.lookup
function lookup(input: unknown, key: string): unknown {
  if (Array.isArray(input)) {
    const result = sequence()
    for (let i = 0; i < input.length; i++) {
      const res = lookup(input[i], key)
      if (res !== undefined) {
        if (Array.isArray(res)) pushItems(result, res)
        else result.push(res)
      }
    }
    return result
  }
  if (input !== null && typeof input === 'object' && Object.hasOwn(input, key) && !isFunction(input)) return (input as Fields)[key]
  return undefined
}

// evaluateVariable for `$`
function contextValue(input: unknown): unknown {
  return input && (input as Fields).outerWrapper ? (input as unknown[])[0] : input
}

// fn.boolean (undefined for undefined, and for a singleton array holding undefined)
function toBoolean(arg: unknown): boolean | undefined {
  if (arg === undefined) return undefined
  if (Array.isArray(arg)) {
    if (arg.length === 1) return toBoolean(arg[0])
    if (arg.length === 0) return false
    // Array.prototype.filter: every item is cast (an infinite one throws), holes are skipped
    let any = false
    for (let i = 0; i < arg.length; i++) {
      const v = arg[i]
      if ((v !== undefined || i in arg) && toBoolean(v)) any = true
    }
    return any
  }
  if (typeof arg === 'string') return arg.length > 0
  if (isNumeric(arg)) return arg !== 0
  if (arg !== null && typeof arg === 'object' && !isFunction(arg)) return Object.keys(arg).length > 0
  return arg === true
}

// boolize
function toBool(value: unknown): boolean {
  return toBoolean(value) ?? false
}

// utils.isDeepEqual
function isDeepEqual(lhs: unknown, rhs: unknown): boolean {
  if (lhs === rhs) return true
  if (typeof lhs === 'object' && typeof rhs === 'object' && lhs !== null && rhs !== null) {
    if (Array.isArray(lhs) && Array.isArray(rhs)) {
      if (lhs.length !== rhs.length) return false
      for (let i = 0; i < lhs.length; i++) if (!isDeepEqual(lhs[i], rhs[i])) return false
      return true
    }
    const lkeys = Object.getOwnPropertyNames(lhs)
    const rkeys = Object.getOwnPropertyNames(rhs)
    if (lkeys.length !== rkeys.length) return false
    lkeys.sort()
    rkeys.sort()
    for (let i = 0; i < lkeys.length; i++) if (lkeys[i] !== rkeys[i]) return false
    for (const key of lkeys) if (!isDeepEqual((lhs as Fields)[key], (rhs as Fields)[key])) return false
    return true
  }
  return false
}

// fn.string, for the values it turns into text without JSON.stringify's replacer walking a structure
function toText(arg: unknown): string {
  if (typeof arg === 'string') return arg
  if (typeof arg === 'number') {
    if (!Number.isFinite(arg)) decline() // D3001
    return String(Number.isInteger(arg) ? arg : Number(arg.toPrecision(15)))
  }
  if (arg === true) return 'true'
  if (arg === false) return 'false'
  if (arg === null) return 'null'
  return decline() // objects, arrays, functions: not reproduced here
}

// signature getSymbol
function symbolOf(value: unknown): string {
  if (isFunction(value)) return 'f'
  switch (typeof value) {
    case 'string':
      return 's'
    case 'number':
      return 'n'
    case 'boolean':
      return 'b'
    case 'object':
      return value === null ? 'l' : Array.isArray(value) ? 'a' : 'o'
    default:
      return 'm'
  }
}

// a signature's `a<n>` parameter: undefined stays undefined, a number becomes [number], an array must hold numbers only
function numbersArgument(arg: unknown): unknown[] | undefined {
  const symbol = symbolOf(arg)
  if (symbol === 'm') return undefined
  if (symbol !== 'a') {
    if (symbol !== 'n') decline() // T0412
    return [arg]
  }
  const items = arg as unknown[]
  if (items.length > 0) {
    if (symbolOf(items[0]) !== 'n') decline()
    for (let i = 1; i < items.length; i++) {
      const v = items[i]
      if ((v !== undefined || i in items) && typeof v !== 'number') decline()
    }
  }
  return items
}

// `a` parameter of $count: any value, a non-array becomes a singleton
function countOf(arg: unknown): number {
  const symbol = symbolOf(arg)
  if (symbol === 'm') return 0
  return symbol === 'a' ? (arg as unknown[]).length : 1
}

function sumOf(items: unknown[]): number {
  let total = 0
  for (let i = 0; i < items.length; i++) {
    const v = items[i]
    if (v !== undefined || i in items) total += v as number
  }
  return total
}

function finite(n: number): number {
  return Number.isFinite(n) ? n : decline()
}

// a string parameter with context default (`s-`), given explicitly: a string or undefined
function stringArgument(arg: unknown): string | undefined {
  if (arg === undefined) return undefined
  return typeof arg === 'string' ? arg : decline() // T0410, or a TypeError for bigint and symbol values
}

// fn.keys
function keysOf(arg: unknown): unknown[] {
  const result = sequence()
  if (Array.isArray(arg)) {
    const merge: Fields = Object.create(null)
    for (let i = 0; i < arg.length; i++) for (const key of keysOf(arg[i])) merge[key as string] = true
    return keysOf(merge)
  }
  if (arg !== null && typeof arg === 'object' && !isFunction(arg)) for (const key of Object.keys(arg)) result.push(key)
  return result
}

/** The built-in functions on the fast path, each taking exactly one argument. */
const FUNCTIONS: Record<string, (arg: unknown) => unknown> = {
  count: countOf,
  sum: (arg) => {
    const items = numbersArgument(arg)
    return items === undefined ? undefined : finite(sumOf(items))
  },
  max: (arg) => {
    const items = numbersArgument(arg)
    if (items === undefined || items.length === 0) return undefined
    if (items.length > 10_000) decline() // Math.max.apply's own limits
    return finite(Math.max.apply(Math, items as number[]))
  },
  min: (arg) => {
    const items = numbersArgument(arg)
    if (items === undefined || items.length === 0) return undefined
    if (items.length > 10_000) decline()
    return finite(Math.min.apply(Math, items as number[]))
  },
  average: (arg) => {
    const items = numbersArgument(arg)
    if (items === undefined || items.length === 0) return undefined
    return finite(sumOf(items) / items.length)
  },
  exists: (arg) => arg !== undefined,
  not: (arg) => (arg === undefined ? undefined : !toBoolean(arg)),
  boolean: toBoolean,
  length: (arg) => {
    const str = stringArgument(arg)
    if (str === undefined) return undefined
    let n = 0
    for (const _ of str) n++
    return n
  },
  uppercase: (arg) => stringArgument(arg)?.toUpperCase(),
  lowercase: (arg) => stringArgument(arg)?.toLowerCase(),
  keys: (arg) => unwrap(keysOf(arg))
}

// the own keys each node type may have: anything else (predicates, stages, grouping, focus and
// index bindings, keepArray, tuple, ancestry, consarray…) declines the expression
const NODE_KEYS: Record<string, ReadonlySet<string>> = {
  path: new Set(['type', 'steps']),
  name: new Set(['type', 'value', 'position']),
  variable: new Set(['type', 'value', 'position']),
  string: new Set(['type', 'value', 'position']),
  number: new Set(['type', 'value', 'position']),
  value: new Set(['type', 'value', 'position']),
  unary: new Set(['type', 'value', 'position', 'expression', 'expressions', 'lhs']),
  binary: new Set(['type', 'value', 'position', 'lhs', 'rhs']),
  function: new Set(['type', 'name', 'value', 'position', 'arguments', 'procedure']),
  condition: new Set(['type', 'position', 'condition', 'then', 'else']),
  block: new Set(['type', 'position', 'expressions'])
}

function plainNode(node: unknown): node is Node {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return false
  const allowed = NODE_KEYS[(node as Fields).type as string]
  if (allowed === undefined) return false
  for (const key of Object.keys(node)) if (!allowed.has(key)) return false
  return true
}

function compileNode(node: unknown): Evaluator | undefined {
  if (!plainNode(node)) return undefined
  switch (node.type) {
    case 'string':
      return typeof node.value === 'string' ? constant(node.value) : undefined
    case 'number':
      return typeof node.value === 'number' && Number.isFinite(node.value) ? constant(node.value) : undefined
    case 'value':
      return node.value === true || node.value === false || node.value === null ? constant(node.value) : undefined
    case 'variable':
      return node.value === '' ? (input) => unwrap(contextValue(input)) : undefined
    case 'path':
      return compilePath(node)
    case 'block':
      return compileBlock(node)
    case 'unary':
      return node.value === '-' ? compileNegation(node) : node.value === '[' ? compileArray(node) : node.value === '{' ? compileObject(node) : undefined
    case 'binary':
      return compileBinary(node)
    case 'condition':
      return compileCondition(node)
    case 'function':
      return compileFunction(node)
    default:
      return undefined
  }
}

function constant(value: unknown): Evaluator {
  return () => value
}

function compileAll(nodes: unknown): Evaluator[] | undefined {
  if (!Array.isArray(nodes)) return undefined
  const out: Evaluator[] = []
  for (const n of nodes) {
    const e = compileNode(n)
    if (e === undefined) return undefined
    out.push(e)
  }
  return out
}

// evaluateBlock: the value of the last expression (a block with one expression is that expression)
function compileBlock(node: Node): Evaluator | undefined {
  const parts = compileAll(node.expressions)
  if (parts === undefined) return undefined
  if (parts.length === 0) return () => undefined
  if (parts.length === 1) return parts[0]
  return (input) => {
    let result: unknown
    for (const part of parts) result = part(input)
    return result
  }
}

// evaluateUnary '-'
function compileNegation(node: Node): Evaluator | undefined {
  const operand = compileNode(node.expression)
  if (operand === undefined) return undefined
  return (input) => {
    const v = operand(input)
    if (v === undefined) return undefined
    return isNumeric(v) ? -v : decline() // D1002
  }
}

// evaluateUnary '[' (never a path step here, so never a `cons` array)
function compileArray(node: Node): Evaluator | undefined {
  const items = node.expressions
  const parts = compileAll(items)
  if (!Array.isArray(items) || parts === undefined) return undefined
  const nested = items.map((item: Node) => item.value === '[')
  return (input) => {
    let result: unknown[] = []
    for (let i = 0; i < parts.length; i++) {
      const value = (parts[i] as Evaluator)(input)
      if (value === undefined) continue
      // fn.append, whose first argument is always this array
      if (nested[i]) result.push(value)
      else result = result.concat(Array.isArray(value) ? value : [value])
    }
    return result
  }
}

// evaluateUnary '{' → evaluateGroupExpression for a single, non-array input, with literal keys
function compileObject(node: Node): Evaluator | undefined {
  const pairs = node.lhs
  if (!Array.isArray(pairs)) return undefined
  const keys: string[] = []
  const values: Evaluator[] = []
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2) return undefined
    const keyNode: unknown = pair[0]
    if (!plainNode(keyNode) || keyNode.type !== 'string' || typeof keyNode.value !== 'string') return undefined
    const key = keyNode.value
    // D1009 (the same key from two pairs) and D1013 (reserved names) are JSONata's errors
    if (keys.includes(key) || key === '_jsonata_lambda' || key === '_jsonata_function') return undefined
    const value = compileNode(pair[1])
    if (value === undefined) return undefined
    keys.push(key)
    values.push(value)
  }
  return (input) => {
    // an array input would be grouped item by item: JSONata's
    if (Array.isArray(input)) decline()
    const result: Fields = Object.create(null)
    for (let i = 0; i < keys.length; i++) {
      const value = (values[i] as Evaluator)(input)
      if (value !== undefined) result[keys[i] as string] = value
    }
    return result
  }
}

// evaluateCondition
function compileCondition(node: Node): Evaluator | undefined {
  const condition = compileNode(node.condition)
  const then = compileNode(node.then)
  const otherwise = node.else === undefined ? constant(undefined) : compileNode(node.else)
  if (condition === undefined || then === undefined || otherwise === undefined) return undefined
  return (input) => (toBoolean(condition(input)) ? then(input) : otherwise(input))
}

// evaluateFunction + validateArguments + the built-in, for one argument
function compileFunction(node: Node): Evaluator | undefined {
  const procedure = node.procedure
  if (!plainNode(procedure) || procedure.type !== 'variable' || typeof procedure.value !== 'string') return undefined
  if (!Object.hasOwn(FUNCTIONS, procedure.value)) return undefined
  const fn = FUNCTIONS[procedure.value] as (arg: unknown) => unknown
  const args = compileAll(node.arguments)
  // other arities are signature errors, or use the context (`$not()`): JSONata's
  if (args === undefined || args.length !== 1) return undefined
  const arg = args[0] as Evaluator
  return (input) => {
    const value = arg(input)
    // a function argument would be wrapped into a closure
    if (isFunction(value)) decline()
    return fn(value)
  }
}

// evaluateBinary
function compileBinary(node: Node): Evaluator | undefined {
  const lhs = compileNode(node.lhs)
  const rhs = compileNode(node.rhs)
  if (lhs === undefined || rhs === undefined) return undefined
  switch (node.value) {
    case '+':
    case '-':
    case '*':
    case '/':
    case '%': {
      const op = node.value
      // evaluateNumericExpression
      return (input) => {
        const l = lhs(input)
        const r = rhs(input)
        if (l !== undefined && !isNumeric(l)) decline() // T2001
        if (r !== undefined && !isNumeric(r)) decline() // T2002
        if (l === undefined || r === undefined) return undefined
        const result = op === '+' ? l + r : op === '-' ? l - r : op === '*' ? l * r : op === '/' ? l / r : l % r
        return finite(result)
      }
    }
    case '=':
    case '!=': {
      const equal = node.value === '='
      // evaluateEqualityExpression
      return (input) => {
        const l = lhs(input)
        const r = rhs(input)
        if (l === undefined || r === undefined) return false
        return isDeepEqual(l, r) === equal
      }
    }
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const op = node.value
      // evaluateComparisonExpression
      return (input) => {
        const l = lhs(input)
        const r = rhs(input)
        const lt = typeof l
        const rt = typeof r
        if (!(lt === 'undefined' || lt === 'string' || lt === 'number')) decline() // T2010
        if (!(rt === 'undefined' || rt === 'string' || rt === 'number')) decline()
        if (l === undefined || r === undefined) return undefined
        if (lt !== rt) decline() // T2009
        const a = l as number
        const b = r as number
        return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b
      }
    }
    case '&':
      // evaluateStringConcat
      return (input) => {
        const l = lhs(input)
        const r = rhs(input)
        return (l === undefined ? '' : toText(l)) + (r === undefined ? '' : toText(r))
      }
    case 'and':
      return (input) => toBool(lhs(input)) && toBool(rhs(input))
    case 'or':
      return (input) => toBool(lhs(input)) || toBool(rhs(input))
    default:
      return undefined
  }
}

/** A path step, evaluated for one item of the input sequence (evaluate(step, item)). */
interface Step {
  /** The field name of a name step; undefined for the other steps. */
  name: string | undefined
  /** `$` as a step. */
  context: boolean
  evaluate: Evaluator
}

function compileStep(node: unknown): Step | undefined {
  if (!plainNode(node)) return undefined
  if (node.type === 'name') {
    if (typeof node.value !== 'string') return undefined
    const key = node.value
    return { name: key, context: false, evaluate: (item) => unwrap(lookup(item, key)) }
  }
  if (node.type === 'variable') {
    if (node.value !== '') return undefined
    return { name: undefined, context: true, evaluate: (item) => unwrap(contextValue(item)) }
  }
  // a parenthesised block, or an object constructor (per item, never grouping)
  if (node.type === 'block' || (node.type === 'unary' && node.value === '{')) {
    const evaluate = compileNode(node)
    return evaluate === undefined ? undefined : { name: undefined, context: false, evaluate }
  }
  return undefined
}

// evaluateStep (no sort, no stages)
function evaluateStep(step: Evaluator, input: unknown[], lastStep: boolean): unknown[] {
  const result: unknown[] = []
  for (let i = 0; i < input.length; i++) {
    const res = step(input[i])
    if (res !== undefined) result.push(res)
  }
  if (lastStep && result.length === 1 && Array.isArray(result[0]) && !isSequence(result[0])) return result[0] as unknown[]
  const flattened = sequence()
  for (const res of result) {
    if (!Array.isArray(res) || (res as Flagged).cons) flattened.push(res)
    else pushItems(flattened, res)
  }
  return flattened
}

// evaluatePath from step `from` on, then evaluate()'s unwrapping
function evaluateSteps(steps: Step[], from: number, input: unknown[]): unknown {
  let inputSequence = input
  let resultSequence = input
  for (let i = from; i < steps.length; i++) {
    resultSequence = evaluateStep((steps[i] as Step).evaluate, inputSequence, i === steps.length - 1)
    if (resultSequence.length === 0) break
    inputSequence = resultSequence
  }
  return unwrap(resultSequence)
}

function compilePath(node: Node): Evaluator | undefined {
  const nodes = node.steps
  if (!Array.isArray(nodes) || nodes.length === 0) return undefined
  const steps: Step[] = []
  for (const n of nodes) {
    const step = compileStep(n)
    if (step === undefined) return undefined
    steps.push(step)
  }
  const absolute = (steps[0] as Step).context
  const last = steps.length - 1
  return (input) => {
    // an array is the input sequence itself, unless the path starts at `$`
    if (Array.isArray(input) && !absolute) return evaluateSteps(steps, 0, input)
    // while the sequence is a single non-array item, evaluateStep reduces to walking the item
    let item = input
    for (let i = 0; i <= last; i++) {
      const step = steps[i] as Step
      let value: unknown
      if (step.name !== undefined) value = unwrap(lookup(item, step.name))
      else if (step.context) value = unwrap(contextValue(item))
      else {
        const single = sequence()
        single.push(item)
        return evaluateSteps(steps, i, single)
      }
      if (value === undefined) return undefined
      if (!Array.isArray(value)) {
        item = value
        continue
      }
      if (i === last && !isSequence(value)) return value
      const next = sequence()
      if ((value as Flagged).cons) next.push(value)
      else pushItems(next, value)
      if (next.length === 0 || i === last) return unwrap(next)
      return evaluateSteps(steps, i + 1, next)
    }
    return item
  }
}

/**
 * Compiles a JSONata AST (`jsonata(text).ast()`) to a synchronous closure, or returns `undefined`
 * when the expression uses anything outside the fast path's subset. The closure throws
 * {@link FAST_PATH_DECLINED} (and nothing else) to decline an input.
 */
export function compileFastEvaluator(ast: jsonata.ExprNode): ((input: unknown) => unknown) | undefined {
  const evaluate = compileNode(ast)
  if (evaluate === undefined) return undefined
  return (input) => {
    // JSONata wraps an array input in an `outerWrapper` sequence: not reproduced here
    if (Array.isArray(input)) decline()
    return evaluate(input)
  }
}

/** Guards an evaluator: anything thrown becomes FAST_PATH_DECLINED. */
function guarded(evaluate: (input: unknown) => unknown): FastExpression {
  return (input) => {
    try {
      return evaluate(input)
    } catch {
      return FAST_PATH_DECLINED
    }
  }
}

/**
 * The synchronous fast path of a JSONata expression, through the shared expression cache (parsed
 * once, compiled once): `undefined` when the expression is invalid or uses anything outside the
 * subset, else a {@link FastExpression} whose results are JSONata's own.
 */
export function compileFastExpression(text: string): FastExpression | undefined {
  const entry = cachedExpression(text)
  if (!entry.ok) return undefined
  if (entry.fast === undefined) {
    let evaluate: ((input: unknown) => unknown) | undefined
    try {
      evaluate = compileFastEvaluator(entry.expression.ast())
    } catch {
      evaluate = undefined
    }
    entry.fast = evaluate === undefined ? null : guarded(evaluate)
  }
  return entry.fast ?? undefined
}
