import { Ajv2020, type ErrorObject, type Options, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsPlugin from 'ajv-formats'
import { JSON_SCHEMA_CACHE_SIZE } from './constants.js'
import { JsonSchemaError } from './errors.js'
import { checkExpression } from './expressions.js'
import { LruCache } from './lru.js'
import type { JsonSchema } from './types.js'

// ajv-formats is CommonJS: its default export is the plugin function itself
const addFormats = addFormatsPlugin as unknown as (ajv: Ajv2020) => Ajv2020

/** Creates an ajv (draft 2020-12) instance with ajv-formats. */
export function createAjv(options: Options): Ajv2020 {
  const ajv = new Ajv2020({ logger: false, ...options })
  addFormats(ajv)
  // action params schemas mark JSONata members with this format
  ajv.addFormat('jsonata', { type: 'string', validate: (text: string) => checkExpression(text) === undefined })
  return ajv
}

const USER_OPTIONS: Options = {
  allErrors: true,
  verbose: true,
  strict: true,
  strictRequired: false,
  strictTypes: false,
  strictTuples: false,
  allowUnionTypes: true
}

let strictAjv: Ajv2020 | undefined
let lenientAjv: Ajv2020 | undefined

function ajvFor(strict: boolean): Ajv2020 {
  if (strict) {
    strictAjv ??= createAjv(USER_OPTIONS)
    return strictAjv
  }
  lenientAjv ??= createAjv({ ...USER_OPTIONS, strict: false })
  return lenientAjv
}

/** How a JSON Schema compiled: the validator, or why not; `warning` when it compiled only leniently. */
export interface JsonSchemaCheck {
  /** The compiled validator, when it compiled. */
  validate?: ValidateFunction
  /** Why it does not compile. */
  error?: string
  /** Set when the schema compiled only once unknown keywords were ignored. */
  warning?: string
}

const cache = new LruCache<string, JsonSchemaCheck>(JSON_SCHEMA_CACHE_SIZE)

function compileWith(ajv: Ajv2020, schema: JsonSchema): ValidateFunction {
  if (typeof schema === 'object' && schema !== null) {
    const id = (schema as { $id?: unknown }).$id
    if (typeof id === 'string' && ajv.getSchema(id) !== undefined) ajv.removeSchema(id)
  }
  return ajv.compile(schema)
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * Compiles a JSON Schema (draft 2020-12, with ajv-formats) through a bounded cache and says whether
 * it compiles. Unknown keywords (`x-…` annotations, say) make it compile leniently with a warning;
 * unresolvable `$ref`s, invalid regular expressions and malformed keywords are errors.
 */
export function checkJsonSchema(schema: unknown): JsonSchemaCheck {
  if (typeof schema === 'boolean') return { validate: ajvFor(true).compile(schema) }
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    return { error: 'a JSON Schema must be an object or a boolean' }
  }
  let key: string
  try {
    key = JSON.stringify(schema)
  } catch (err) {
    return { error: messageOf(err) }
  }
  const hit = cache.get(key)
  if (hit !== undefined) return hit
  let check: JsonSchemaCheck
  try {
    check = { validate: compileWith(ajvFor(true), schema as JsonSchema) }
  } catch (err) {
    const message = messageOf(err)
    if (/^strict mode: unknown keyword/.test(message)) {
      try {
        check = { validate: compileWith(ajvFor(false), schema as JsonSchema), warning: message }
      } catch (err2) {
        check = { error: messageOf(err2) }
      }
    } else {
      check = { error: message }
    }
  }
  if (cache.size >= JSON_SCHEMA_CACHE_SIZE) {
    // ajv keeps every compiled schema in its own cache too: start both afresh rather than grow
    // without bound (validators already handed out keep working)
    strictAjv?.removeSchema()
    lenientAjv?.removeSchema()
    cache.clear()
  }
  cache.set(key, check)
  return check
}

/**
 * Compiles a JSON Schema (draft 2020-12, with ajv-formats) to a validator, through a bounded cache.
 * The engine uses it for a flow's `inputSchema`, steps' `outputSchema` and webhooks' `eventSchema`.
 *
 * @throws {@link JsonSchemaError} when the schema does not compile.
 */
export function compileJsonSchema(schema: JsonSchema): ValidateFunction {
  const check = checkJsonSchema(schema)
  if (check.validate === undefined) throw new JsonSchemaError(check.error ?? 'JSON Schema does not compile')
  return check.validate
}

export type { ErrorObject, ValidateFunction }
