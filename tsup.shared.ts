import { defineConfig } from 'tsup'

/** Shared build: ESM with declarations, one entry per package unless a package adds more. */
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: { compilerOptions: { composite: false, paths: {} } },
  sourcemap: true,
  clean: true,
  target: 'node20'
})
