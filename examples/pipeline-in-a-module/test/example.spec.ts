import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

const run = promisify(execFile)

it('runs the module and validates its operations', async () => {
  const cwd = fileURLToPath(new URL('..', import.meta.url))
  const { stdout } = await run(process.execPath, ['index.js'], { cwd })
  expect(stdout.trim().split('\n')).toEqual(['sent', 'refused at qlock: BAD_SIGNATURE', 'refused at qerberos: TOO_LARGE', 'indexed: m1,m3'])
})
