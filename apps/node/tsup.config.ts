import { defineConfig } from 'tsup'
import shared from '../../tsup.shared.js'

/**
 * The shared build with three entries: the library (`dist/index.js`), the API client alone
 * (`dist/client/index.js`, exported as `@qflow/node/client`) and the `qflow` executable
 * (`dist/cli.js`). The shebang is only in `src/cli.ts`'s first line — esbuild keeps an entry's
 * hashbang and tsup marks that output executable — so the library entry does not get one.
 */
export default defineConfig({
  ...(shared as object),
  entry: ['src/cli.ts', 'src/index.ts', 'src/client/index.ts']
})
