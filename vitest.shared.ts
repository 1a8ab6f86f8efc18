import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const root = fileURLToPath(new URL('.', import.meta.url))

/**
 * Shared vitest configuration: workspace packages resolve to their TypeScript sources, so a
 * package's tests run against its neighbours' current code without a build step.
 */
export default defineConfig({
  resolve: {
    alias: [{ find: /^@qflow\/([a-z0-9-]+)$/, replacement: `${root}packages/$1/src/index.ts` }]
  },
  test: {
    include: ['test/**/*.spec.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // scripts/run-tests.mjs sums these per-package results into one closing line.
    reporters: process.env.QFLOW_VITEST_JSON === '1' ? ['default', 'json'] : ['default'],
    outputFile: { json: '.vitest-result.json' }
  }
})
