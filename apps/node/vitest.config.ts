import { defineConfig, mergeConfig } from 'vitest/config'
import shared from '../../vitest.shared.js'

/**
 * The shared configuration, plus a global setup that builds the CLI (and the packages it uses)
 * when its `dist` is missing or older than the sources: most tests spawn `node dist/cli.js`.
 */
export default mergeConfig(shared, defineConfig({ test: { globalSetup: ['test/fixtures/build.ts'] } }))
