import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.spec.ts'],
    reporters: process.env.QFLOW_VITEST_JSON === '1' ? ['default', 'json'] : ['default'],
    outputFile: { json: '.vitest-result.json' }
  }
})
