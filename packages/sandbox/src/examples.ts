import { fileURLToPath } from 'node:url'

/**
 * The directory holding the example templates this package ships, compiled by its build:
 * `<name>.wasm` and `<name>.manifest.json` for echo, json-transform, validate, sha256, csv and
 * http-fetch (see `examples/templates`).
 */
export function exampleTemplatesDir(): string {
  // Both from dist/index.js and from src/examples.ts, the templates are one level up.
  return fileURLToPath(new URL('../templates/', import.meta.url))
}
