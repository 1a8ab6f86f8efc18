/**
 * The parts of a flow document the engine reads. Structurally a subset of `Flow` from
 * `@qflow/flow-schema`: any validated flow is one.
 */
export interface EngineStep {
  readonly id: string
  readonly type: string
  readonly name?: string
  readonly action?: string
  readonly params?: unknown
  readonly onSuccess?: string
  readonly onFailure?: string
  readonly timeout?: number
  readonly retryPolicy?: {
    readonly maxAttempts?: number
    readonly backoff?: 'fixed' | 'exponential'
    readonly initialDelay?: number
    readonly maxDelay?: number
    readonly jitter?: boolean | number
  }
  readonly resourceLimits?: { readonly timeoutMs?: number; readonly memoryMB?: number; readonly cpuMs?: number }
  readonly outputSchema?: unknown
  /** condition */
  readonly expression?: string
  readonly onTrue?: string
  readonly onFalse?: string
  /** parallel */
  readonly branches?: readonly (readonly string[])[]
  readonly join?: 'all' | 'any' | { readonly count: number }
  /** event-trigger */
  readonly event?: string
  readonly filter?: unknown
  readonly onTimeout?: string
  /** module-call */
  readonly module?: string
  readonly operation?: string
  /** sub-flow */
  readonly flow?: string
  readonly input?: unknown
}

/** The parts of a flow the engine reads. */
export interface EngineFlow {
  readonly id: string
  readonly name?: string
  readonly version: string
  readonly owner: string
  readonly steps: readonly EngineStep[]
  /** JSON Schema of the run input. */
  readonly inputSchema?: unknown
  readonly metadata?: { readonly daoSubnet?: string; readonly [key: string]: unknown }
}
