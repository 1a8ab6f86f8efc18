/**
 * Node 20 lacks `Promise.withResolvers`, which Helia's and libp2p's dependencies call (it-queue,
 * @libp2p/utils, ...). The package entry calls {@link installPolyfills} first; it defines the method
 * only when it is missing, so on Node 22+ it does nothing. (A bare `import './polyfills.js'` would
 * be dropped by the bundler: the package declares `sideEffects: false`.)
 */
interface Resolvers<T> {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

const PromiseWithResolvers = Promise as PromiseConstructor & { withResolvers?: <T>() => Resolvers<T> }

/** Defines `Promise.withResolvers` when the runtime lacks it. */
export function installPolyfills(): void {
  if (typeof PromiseWithResolvers.withResolvers === 'function') return
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function withResolvers<T>(): Resolvers<T> {
      let resolve!: Resolvers<T>['resolve']
      let reject!: Resolvers<T>['reject']
      const promise = new Promise<T>((res, rej) => {
        resolve = res
        reject = rej
      })
      return { promise, resolve, reject }
    }
  })
}
