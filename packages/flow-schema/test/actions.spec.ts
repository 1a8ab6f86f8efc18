import { describe, expect, it } from 'vitest'
import { type ActionRegistryError, createActionRegistry, defaultActions } from '../src/index.js'

describe('action registry', () => {
  it('holds the built-in actions by default', () => {
    const registry = createActionRegistry()
    expect(registry.names()).toEqual(['http.request', 'data.transform', 'log', 'delay', 'wasm.run'])
    expect(defaultActions.map((a) => a.name)).toEqual(registry.names())
    const validate = registry.paramsValidator('http.request')
    expect(validate?.({ url: 'https://x.example', method: 'POST' })).toBe(true)
    expect(validate?.({ url: 'ftp://x' })).toBe(false)
    expect(registry.paramsValidator('data.transform')?.({ expression: '$sum(' })).toBe(false)
    expect(registry.paramsValidator('data.transform')?.({ expression: '$sum(a)' })).toBe(true)
  })

  it('registers new actions and refuses duplicates and bad definitions', () => {
    const registry = createActionRegistry([])
    expect(registry.names()).toEqual([])
    registry.register({ name: 'qmail.send', description: 'Sends mail' })
    expect(registry.has('qmail.send')).toBe(true)
    expect(registry.paramsValidator('qmail.send')).toBeUndefined()
    const attempt = (fn: () => unknown): ActionRegistryError => {
      try {
        fn()
      } catch (err) {
        expect((err as Error).name).toBe('ActionRegistryError')
        return err as ActionRegistryError
      }
      throw new Error('expected ActionRegistryError')
    }
    expect(attempt(() => registry.register({ name: 'qmail.send' })).action).toBe('qmail.send')
    registry.register({ name: 'qmail.send', description: 'v2' }, { replace: true })
    expect(registry.get('qmail.send')?.description).toBe('v2')
    attempt(() => registry.register({ name: 'bad name' }))
    attempt(() => registry.register({ name: 'x.y', paramsSchema: { type: 'object', properties: { a: { type: 'nonsense' } } } }))
    // a registry is independent of others
    expect(createActionRegistry().has('qmail.send')).toBe(false)
  })
})
