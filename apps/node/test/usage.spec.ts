import { describe, expect, it } from 'vitest'
import { qflow, useTempDir, writeFiles } from './fixtures/cli.js'
import { BROKEN_YAML } from './fixtures/flows.js'

const COMMANDS = [
  [],
  ['flow'],
  ['flow', 'validate'],
  ['flow', 'hash'],
  ['flow', 'sign'],
  ['flow', 'verify'],
  ['flow', 'diff'],
  ['key'],
  ['key', 'generate'],
  ['key', 'did'],
  ['template'],
  ['template', 'approve'],
  ['template', 'revoke'],
  ['template', 'list'],
  ['secret'],
  ['grant'],
  ['grant', 'add'],
  ['grant', 'list'],
  ['grant', 'revoke']
]

describe('qflow usage and exit codes', () => {
  const tmp = useTempDir()

  it.each(COMMANDS.map((c) => [c.join(' ') || '(root)', c] as const))('%s --help prints usage with examples and exits 0', async (_name, command) => {
    const result = await qflow([...command, '--help'])
    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(/^Usage: qflow/)
    expect(result.stdout).toContain('Examples:\n  $ qflow ')
    if (command.length > 0) expect(result.stdout).toMatch(/Global Options:[\s\S]*--json[\s\S]*--verbose/)
  })

  it('help <command> works like --help', async () => {
    const result = await qflow(['help', 'flow'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^Usage: qflow flow/)
  })

  it('--version prints the package version', async () => {
    const result = await qflow(['--version'])
    expect(result).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' })
  })

  it('exits 2 for an unknown command, with a suggestion on stderr', async () => {
    const result = await qflow(['flow', 'vaildate', 'x.yaml'])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain("qflow: unknown command 'vaildate'")
    expect(result.stderr).toContain('(Did you mean validate?)')
  })

  it('exits 2 for an unknown option', async () => {
    const result = await qflow(['flow', 'hash', '--frobnicate', 'x.yaml'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("qflow: unknown option '--frobnicate'")
  })

  it('exits 2 for a missing argument or a missing required option', async () => {
    const noFile = await qflow(['flow', 'validate'])
    expect(noFile.code).toBe(2)
    expect(noFile.stderr).toContain("qflow: missing required argument 'file'")
    const noSecond = await qflow(['flow', 'diff', 'a.yaml'])
    expect(noSecond.code).toBe(2)
    const noKey = await qflow(['flow', 'sign', 'a.yaml'])
    expect(noKey.code).toBe(2)
    expect(noKey.stderr).toContain("qflow: required option '-k, --key <keyfile>' not specified")
  })

  it('exits 2 and shows help on stderr for a command group without a subcommand', async () => {
    const result = await qflow(['flow'])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^Usage: qflow flow/)
    const bare = await qflow([])
    expect(bare.code).toBe(2)
    expect(bare.stderr).toMatch(/^Usage: qflow/)
  })

  it('prints no stack trace for expected errors, but does with --verbose or QFLOW_DEBUG=1', async () => {
    await writeFiles(tmp(), { 'broken.yaml': BROKEN_YAML })
    const plain = await qflow(['flow', 'hash', 'broken.yaml'], { cwd: tmp() })
    expect(plain.code).toBe(1)
    expect(plain.stderr).not.toMatch(/\n\s+at /)
    const verbose = await qflow(['--verbose', 'flow', 'hash', 'broken.yaml'], { cwd: tmp() })
    expect(verbose.code).toBe(1)
    expect(verbose.stderr).toMatch(/InvalidFlowFileError: broken\.yaml is not a valid flow[\s\S]*\n\s+at /)
    const debug = await qflow(['flow', 'hash', 'broken.yaml'], { cwd: tmp(), env: { QFLOW_DEBUG: '1' } })
    expect(debug.code).toBe(1)
    expect(debug.stderr).toMatch(/\n\s+at /)
  })

  it('accepts the global options after the subcommand too', async () => {
    const result = await qflow(['flow', 'validate', 'examples/flows/lead-routing.json', '--json'])
    expect(result.code).toBe(0)
    expect((JSON.parse(result.stdout) as { valid: boolean }).valid).toBe(true)
  })
})
