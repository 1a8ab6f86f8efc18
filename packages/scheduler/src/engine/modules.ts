import type { ActionContext } from '../actions/action.js'

/** An ecosystem module (qmail, qpic, …) that `module-call` steps reach. */
export interface ModuleHandler {
  /** Performs `operation` with the step's evaluated params. */
  call(operation: string, params: Record<string, unknown>, context: ActionContext): Promise<unknown>
}

/** The modules an engine can call, by name. */
export interface ModuleRegistry {
  get(name: string): ModuleHandler | undefined
  register(name: string, handler: ModuleHandler): void
  names(): string[]
}

/** Thrown when a step calls a module no registry entry answers to. */
export class UnknownModuleError extends Error {
  static override readonly name = 'UnknownModuleError'
  override readonly name = 'UnknownModuleError'
  readonly retryable = false
  readonly module: string
  constructor(module: string) {
    super(`No module named ${module} is registered on this node`)
    this.module = module
  }
}

/** Makes a module registry. */
export function createModuleRegistry(entries: Iterable<[string, ModuleHandler]> = []): ModuleRegistry {
  const byName = new Map(entries)
  return {
    get: (name) => byName.get(name),
    register: (name, handler) => void byName.set(name, handler),
    names: () => [...byName.keys()].sort()
  }
}
