import type { ExecutionResult, LaunchedExecution } from '@qflow/scheduler'
import { FINAL_STATUSES } from '../node/constants.js'

/**
 * The result of a launched execution if it ends within `timeoutMs`, else undefined (it runs on).
 * A run that had ended when its start was durable (pure steps only) needs no timer.
 */
export async function resultWithin(launched: LaunchedExecution, timeoutMs: number): Promise<ExecutionResult | undefined> {
  if (FINAL_STATUSES.has(launched.status)) return launched.wait()
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    launched.wait(),
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs)
    })
  ]).finally(() => clearTimeout(timer))
}
