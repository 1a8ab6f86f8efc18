#!/usr/bin/env node
// Runs every workspace package's tests through turbo, then prints one closing line summing the
// vitest results of all packages: "Tests: N passed, N failed, N skipped". Exits with turbo's code.
// `--continue`: one package's failure does not stop the others, so the totals cover every package.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const dirs = ['packages', 'apps', 'examples', 'tests']
  .filter((d) => existsSync(join(root, d)))
  .flatMap((d) => readdirSync(join(root, d)).map((p) => join(root, d, p)))
const resultFile = (dir) => join(dir, '.vitest-result.json')
const extra = process.argv.slice(2)

const turbo = spawnSync('pnpm', ['exec', 'turbo', 'run', 'test', '--continue', '--output-logs=new-only', ...extra], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, QFLOW_VITEST_JSON: '1' }
})

let passed = 0
let failed = 0
let skipped = 0
const failing = []
for (const dir of dirs) {
  const file = resultFile(dir)
  if (!existsSync(file)) continue
  const result = JSON.parse(readFileSync(file, 'utf8'))
  passed += result.numPassedTests ?? 0
  failed += result.numFailedTests ?? 0
  skipped += (result.numPendingTests ?? 0) + (result.numTodoTests ?? 0)
  if ((result.numFailedTests ?? 0) > 0) failing.push(dir.slice(root.length))
  if (process.env.CI) rmSync(file)
}
if (failing.length > 0) console.log(`Failing packages: ${failing.join(', ')}`)
console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(turbo.status ?? 1)
