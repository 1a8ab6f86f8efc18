import type { Helia } from '@helia/interface'
import * as dagJson from '@ipld/dag-json'
import type { StateStorage } from './storage.js'

interface HeliaClassInit {
  name: string
  version: string
  blockstore: StateStorage['blockstore']
  datastore: StateStorage['datastore']
  codecs: unknown[]
}

type HeliaClass = new (init: HeliaClassInit) => Helia

/**
 * `import 'helia'` loads the whole libp2p graph (~1 s, ~130 MB here) only to export
 * `createHeliaLight`, which is `new Helia({ name, version, ...init })`. Load that class from its own
 * module (~0.17 s) and fall back to the package entry if the file moved.
 */
async function loadHeliaClass(): Promise<HeliaClass | undefined> {
  try {
    const url = new URL('./helia.js', import.meta.resolve('helia'))
    const mod = (await import(url.href)) as { Helia?: HeliaClass }
    return mod.Helia
  } catch {
    return undefined
  }
}

/**
 * A Helia node without networking over the given stores, knowing the dag-json codec: what
 * `createHeliaLight({ blockstore, datastore, codecs: [dagJson] })` makes, without its import cost.
 */
export async function createLightHelia(storage: StateStorage): Promise<Helia> {
  const init = { blockstore: storage.blockstore, datastore: storage.datastore, codecs: [dagJson] }
  const HeliaClass = await loadHeliaClass()
  if (HeliaClass !== undefined) return new HeliaClass({ name: 'helia', version: '7', ...init })
  const { createHeliaLight } = await import('helia')
  return createHeliaLight(init)
}
