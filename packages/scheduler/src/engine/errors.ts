/** Thrown when an event-trigger step's wait ran out and the step has no `onTimeout`. */
export class EventTimeoutError extends Error {
  static override readonly name = 'EventTimeoutError'
  override readonly name = 'EventTimeoutError'
  readonly retryable = false
  readonly event: string
  constructor(event: string) {
    super(`No ${event} event arrived before the step's timeout`)
    this.event = event
  }
}

/** Thrown when a step ran past its timeout. */
export class StepTimeoutError extends Error {
  static override readonly name = 'StepTimeoutError'
  override readonly name = 'StepTimeoutError'
  readonly retryable = true
  readonly stepId: string
  readonly timeoutMs: number
  constructor(stepId: string, timeoutMs: number) {
    super(`Step ${stepId} did not finish within ${timeoutMs} ms`)
    this.stepId = stepId
    this.timeoutMs = timeoutMs
  }
}

/** Thrown when a step's output fails its integrity checks (its `outputSchema`). */
export class StepIntegrityError extends Error {
  static override readonly name = 'StepIntegrityError'
  override readonly name = 'StepIntegrityError'
  readonly retryable = false
  readonly failures: readonly { code: string; message: string; pointer?: string }[]
  constructor(stepId: string, failures: readonly { code: string; message: string; pointer?: string }[]) {
    super(`The output of step ${stepId} failed integrity checks: ${failures.map((f) => `${f.pointer ?? ''} ${f.message}`.trim()).join('; ')}`)
    this.failures = failures
  }
}

/** Thrown when an execution id is not known to this node. */
export class UnknownExecutionError extends Error {
  static override readonly name = 'UnknownExecutionError'
  override readonly name = 'UnknownExecutionError'
  readonly executionId: string
  constructor(executionId: string) {
    super(`No execution ${executionId} on this node`)
    this.executionId = executionId
  }
}

/** Thrown when an operation does not fit the execution's status (resuming a running one, ...). */
export class ExecutionStateError extends Error {
  static override readonly name = 'ExecutionStateError'
  override readonly name = 'ExecutionStateError'
  readonly executionId: string
  readonly status: string
  constructor(executionId: string, status: string, message: string) {
    super(`Execution ${executionId} is ${status}: ${message}`)
    this.executionId = executionId
    this.status = status
  }
}

/** Thrown when a sub-flow reference names no stored flow. */
export class FlowReferenceError extends Error {
  static override readonly name = 'FlowReferenceError'
  override readonly name = 'FlowReferenceError'
  readonly retryable = false
  readonly ref: string
  constructor(ref: string, message = `No stored flow matches ${ref}`) {
    super(message)
    this.ref = ref
  }
}

/** Thrown when the engine is used before `start()` or after `stop()`. */
export class EngineNotStartedError extends Error {
  static override readonly name = 'EngineNotStartedError'
  override readonly name = 'EngineNotStartedError'
  constructor() {
    super('The engine is not started')
  }
}

/** Thrown when an execution's input does not satisfy its flow's `inputSchema`; nothing is stored. */
export class InvalidExecutionInputError extends Error {
  static override readonly name = 'InvalidExecutionInputError'
  override readonly name = 'InvalidExecutionInputError'
  readonly retryable = false
  /** Every problem, with a JSON pointer into the input. */
  readonly problems: readonly { pointer: string; message: string }[]
  constructor(flowId: string, problems: readonly { pointer: string; message: string }[]) {
    super(`The input does not match the inputSchema of ${flowId}: ${problems.map((p) => `${p.pointer || '/'} ${p.message}`).join('; ')}`)
    this.problems = problems
  }
}
