import { HeliaStateStore } from './helia-state-store.js'
import type { StateStore, StateStoreComponents, StateStoreInit } from './state-store.js'

/**
 * The state store factory, in the house's `x(init)(components)` shape. The store is not started:
 * call `start()` (a composer does).
 */
export function stateStore(init: StateStoreInit = {}): (components: StateStoreComponents) => StateStore {
  return (components) => new HeliaStateStore(init, components)
}

/** Makes and starts a state store: opens the stores, replays the journal, starts Helia. */
export async function createStateStore(init: StateStoreInit, components: StateStoreComponents): Promise<StateStore> {
  const store = stateStore(init)(components)
  await store.start()
  return store
}
