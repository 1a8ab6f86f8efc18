import type { ValidateFunction } from 'ajv/dist/2020.js'
import { MAX_STEP_TIMEOUT_MS } from './constants.js'
import { ActionRegistryError } from './errors.js'
import { checkJsonSchema } from './json-schema.js'
import type { JsonSchema } from './types.js'

/** An action a `task` step can run. */
export interface ActionDefinition {
  /** Registry name, such as `http.request`. */
  readonly name: string
  /** What it does. */
  readonly description?: string
  /**
   * JSON Schema (2020-12) of the step's `params`, applied by validation. Values that are `{{ … }}`
   * expressions are exempt from it (they are only known at run time). A string member marked
   * `"format": "jsonata"` must hold a JSONata expression, which validation compiles.
   */
  readonly paramsSchema?: JsonSchema
}

/** The set of actions validation knows; later packages register theirs. */
export interface ActionRegistry {
  /** The definition of an action, if registered. */
  get(name: string): ActionDefinition | undefined
  /** Whether an action is registered. */
  has(name: string): boolean
  /** Registered names, in registration order. */
  names(): string[]
  /** Registered definitions, in registration order. */
  list(): ActionDefinition[]
  /**
   * Adds an action.
   *
   * @throws {@link ActionRegistryError} when the name is taken (unless `replace`) or its params schema does not compile.
   */
  register(definition: ActionDefinition, options?: { replace?: boolean }): this
  /** The compiled params validator of an action (compiled once), or `undefined` when it has no schema. */
  paramsValidator(name: string): ValidateFunction | undefined
}

const NAME = /^[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$/

const anyValue = {}

/** The built-in actions: `http.request`, `data.transform`, `log`, `delay` and `wasm.run`. */
export const defaultActions: readonly ActionDefinition[] = Object.freeze([
  {
    name: 'http.request',
    description: 'Sends an HTTP request; its output is { status, headers, body }.',
    paramsSchema: {
      type: 'object',
      required: ['url'],
      properties: {
        url: { type: 'string', minLength: 1, pattern: '^https?://' },
        method: { enum: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] },
        headers: { type: 'object', additionalProperties: { type: 'string' } },
        query: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
        body: anyValue,
        timeoutMs: { type: 'integer', minimum: 1, maximum: MAX_STEP_TIMEOUT_MS },
        responseType: { enum: ['json', 'text', 'bytes'] },
        followRedirects: { type: 'boolean' },
        expectStatus: { type: 'array', items: { type: 'integer', minimum: 100, maximum: 599 } }
      },
      additionalProperties: false
    }
  },
  {
    name: 'data.transform',
    description: 'Evaluates a JSONata expression over input (default: the step input) and outputs the result.',
    paramsSchema: {
      type: 'object',
      required: ['expression'],
      properties: {
        expression: { type: 'string', minLength: 1, format: 'jsonata' },
        input: anyValue
      },
      additionalProperties: false
    }
  },
  {
    name: 'log',
    description: 'Writes a message to the run log.',
    paramsSchema: {
      type: 'object',
      required: ['message'],
      properties: {
        message: anyValue,
        level: { enum: ['debug', 'info', 'warn', 'error'] },
        data: anyValue
      },
      additionalProperties: false
    }
  },
  {
    name: 'delay',
    description: 'Waits for ms milliseconds.',
    paramsSchema: {
      type: 'object',
      required: ['ms'],
      properties: { ms: { type: 'integer', minimum: 0, maximum: MAX_STEP_TIMEOUT_MS } },
      additionalProperties: false
    }
  },
  {
    name: 'wasm.run',
    description: 'Runs an exported function of a WebAssembly module (by content hash) in the sandbox.',
    paramsSchema: {
      type: 'object',
      required: ['module'],
      properties: {
        module: { type: 'string', minLength: 1 },
        function: { type: 'string', minLength: 1 },
        input: anyValue,
        config: { type: 'object', additionalProperties: { type: 'string' } }
      },
      additionalProperties: false
    }
  }
])

class Registry implements ActionRegistry {
  private readonly definitions = new Map<string, ActionDefinition>()
  private readonly validators = new Map<string, ValidateFunction>()

  get(name: string): ActionDefinition | undefined {
    return this.definitions.get(name)
  }

  has(name: string): boolean {
    return this.definitions.has(name)
  }

  names(): string[] {
    return [...this.definitions.keys()]
  }

  list(): ActionDefinition[] {
    return [...this.definitions.values()]
  }

  register(definition: ActionDefinition, options: { replace?: boolean } = {}): this {
    const name = (definition as { name?: unknown } | null)?.name
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new ActionRegistryError(`action name ${JSON.stringify(name)} is not a dotted identifier`, String(name))
    }
    if (this.definitions.has(name) && options.replace !== true) {
      throw new ActionRegistryError(`action "${name}" is already registered`, name)
    }
    this.validators.delete(name)
    if (definition.paramsSchema !== undefined) {
      const check = checkJsonSchema(definition.paramsSchema)
      if (check.validate === undefined) {
        throw new ActionRegistryError(`params schema of action "${name}" does not compile: ${check.error ?? ''}`, name)
      }
      this.validators.set(name, check.validate)
    }
    this.definitions.set(name, Object.freeze({ ...definition }))
    return this
  }

  paramsValidator(name: string): ValidateFunction | undefined {
    return this.validators.get(name)
  }
}

/**
 * Creates an action registry holding `definitions` (default: {@link defaultActions}); pass `[]`
 * for an empty one. Later packages add their actions with `register`.
 *
 * @throws {@link ActionRegistryError} on a malformed or duplicate definition.
 */
export function createActionRegistry(definitions: Iterable<ActionDefinition> = defaultActions): ActionRegistry {
  const registry = new Registry()
  for (const definition of definitions) registry.register(definition)
  return registry
}

let shared: ActionRegistry | undefined

/** The registry validation uses when none is given: the built-in actions only. */
export function defaultActionRegistry(): ActionRegistry {
  shared ??= createActionRegistry()
  return shared
}
