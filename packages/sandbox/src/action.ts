import type { Action, ActionContext } from '@qflow/scheduler'
import { InvalidActionParamsError } from '@qflow/scheduler'
import type { Sandbox } from './sandbox.js'

/** Params of the `wasm.run` action (as `@qflow/flow-schema` declares them). */
export interface WasmRunParams {
  /** The template: its CID or `name@version`. */
  readonly module: string
  /** The exported function (default: the manifest's first export). */
  readonly function?: string
  /** The JSON input. */
  readonly input?: unknown
  /** Extism config the template reads with `config_get` during this step (string values, bounded size). */
  readonly config?: Record<string, string>
}

/**
 * The `wasm.run` action: runs a template function in the sandbox with the step's `input` and
 * returns its JSON output. The step's abort signal (step timeout, pause, abort) stops the call;
 * `params.config` is the call's Extism config; the step's idempotency key goes on the template's
 * outbound HTTP requests. Failures surface as the sandbox's typed errors.
 */
export function wasmRunAction(sandbox: Pick<Sandbox, 'run' | 'resolve'>): Action<WasmRunParams, unknown> {
  return {
    name: 'wasm.run',
    // A template granted hosts can make requests: its calls carry the step's idempotency key.
    sideEffects: true,
    async execute(params: WasmRunParams, context: ActionContext): Promise<unknown> {
      if (typeof params?.module !== 'string' || params.module.length === 0) {
        throw new InvalidActionParamsError('wasm.run', 'module', 'must be a template CID or name@version')
      }
      const template = sandbox.resolve(params.module)
      const fn = params.function ?? template?.manifest.exports[0]
      if (fn === undefined) throw new InvalidActionParamsError('wasm.run', 'function', 'no function named and the template is not installed')
      const { output, metrics } = await sandbox.run(params.module, fn, params.input ?? null, {
        signal: context.signal,
        idempotencyKey: context.idempotencyKey,
        ...(params.config === undefined ? {} : { config: params.config })
      })
      context.log('debug', `wasm.run ${params.module} ${fn}`, {
        template: metrics.template,
        fuelUsed: metrics.fuelUsed,
        durationMs: Math.round(metrics.durationMs * 1000) / 1000,
        outputBytes: metrics.outputBytes
      })
      return output
    }
  }
}
