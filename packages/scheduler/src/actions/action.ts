/** What an action is told about the step attempt it runs for. */
export interface ActionContext {
  /** The execution. */
  readonly executionId: string
  /** The step. */
  readonly stepId: string
  /** 1-based attempt number. */
  readonly attempt: number
  /**
   * Stable for this step attempt across crashes and replays: an action with side effects passes
   * it on (an `Idempotency-Key` header, a dedup key) so a retried attempt is not applied twice.
   */
  readonly idempotencyKey: string
  /** Aborted when the step times out, or the execution is paused or aborted. */
  readonly signal: AbortSignal
  /** The identity the step runs as. */
  readonly actor: string
  /** The DAO subnet. */
  readonly subnet?: string
  /** What the step's expressions see as `$` (input, step outputs, execution, flow). */
  readonly scope: unknown
  /** Appends a line to the execution's log. */
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, data?: unknown): void
}

/** A built-in or plugged-in action a `task` step names. */
export interface Action<P = Record<string, unknown>, O = unknown> {
  /** The name flows use (`http.request`). */
  readonly name: string
  /** Whether running it twice could be seen outside (it then gets the idempotency key). */
  readonly sideEffects: boolean
  /** Runs the action with the step's evaluated params. */
  execute(params: P, context: ActionContext): Promise<O>
}

/**
 * Thrown when a step names an action no registry entry answers to.
 */
export class UnknownActionError extends Error {
  static override readonly name = 'UnknownActionError'
  override readonly name = 'UnknownActionError'
  readonly retryable = false
  /** The action name. */
  readonly action: string
  constructor(action: string) {
    super(`No action named ${action} is registered`)
    this.action = action
  }
}

/**
 * Thrown when an action is given params it cannot use.
 */
export class InvalidActionParamsError extends Error {
  static override readonly name = 'InvalidActionParamsError'
  override readonly name = 'InvalidActionParamsError'
  readonly retryable = false
  /** The action name. */
  readonly action: string
  /** The offending param. */
  readonly param: string
  constructor(action: string, param: string, message: string) {
    super(`${action}: params.${param}: ${message}`)
    this.action = action
    this.param = param
  }
}

/** The actions an engine can run, by name. */
export interface ActionRegistry {
  /** The action of that name, or undefined. */
  get(name: string): Action<never> | undefined
  /** Adds or replaces an action. */
  register(action: Action<never>): void
  /** Every registered name. */
  names(): string[]
}

/** Makes a registry holding the given actions. */
export function createActionRegistry(actions: Iterable<Action<never>> = []): ActionRegistry {
  const byName = new Map<string, Action<never>>()
  for (const action of actions) byName.set(action.name, action)
  return {
    get: (name) => byName.get(name),
    register: (action) => void byName.set(action.name, action),
    names: () => [...byName.keys()].sort()
  }
}
