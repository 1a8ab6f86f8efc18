import { mergeConfig } from 'vitest/config'
import shared from '../../vitest.shared.js'

// The templates are compiled once (by the project's own AssemblyScript) before any test file runs.
export default mergeConfig(shared, { test: { globalSetup: ['./test/fixtures/global-setup.ts'] } })
