import { defineConfig } from 'tsup'
import shared from '../../tsup.shared.js'

/** The shared build plus the writer thread's entry (`dist/index-writer.js`), which the index starts as a worker. */
export default defineConfig({
  ...(shared as object),
  entry: ['src/index.ts', 'src/index-writer.ts']
})
