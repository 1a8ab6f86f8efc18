import { describe, expect, it } from 'vitest'
import { ExitCode } from '../src/constants.js'
import type { CliIo } from '../src/io.js'
import { buildProgram, type CommandOutcome, runCli } from '../src/program.js'
import { EXAMPLES, memoryIo, REPO_ROOT } from './fixtures/cli.js'
import { BROKEN_YAML, GREETING_YAML } from './fixtures/flows.js'

describe('runCli in-process', () => {
  it('validates the examples and resolves to 0', async () => {
    const io = memoryIo(REPO_ROOT)
    const code = await runCli(['--json', 'flow', 'validate', EXAMPLES], io)
    expect(code).toBe(ExitCode.ok)
    expect((JSON.parse(io.out.join('')) as { valid: boolean }).valid).toBe(true)
    expect(io.err).toEqual([])
  })

  it('reads standard input through the io', async () => {
    const io = memoryIo(REPO_ROOT, BROKEN_YAML)
    expect(await runCli(['flow', 'validate', '-'], io)).toBe(ExitCode.invalid)
    expect(io.out.join('')).toContain('-:12:5 error /steps/1/type unknown-step-type')
  })

  it('maps commander usage errors to 2 and help to 0', async () => {
    expect(await runCli(['flow', 'nope'], memoryIo(REPO_ROOT))).toBe(ExitCode.usage)
    expect(await runCli(['flow', 'sign', 'x.yaml'], memoryIo(REPO_ROOT))).toBe(ExitCode.usage)
    const help = memoryIo(REPO_ROOT)
    expect(await runCli(['flow', 'hash', '--help'], help)).toBe(ExitCode.ok)
    expect(help.out.join('')).toContain('Usage: qflow flow hash [options] <file>')
  })

  it('reports an unexpected failure as an internal error with its stack, and resolves to 1', async () => {
    const io: CliIo & { err: string[] } = {
      ...memoryIo(REPO_ROOT, GREETING_YAML),
      stdout: () => {
        throw new TypeError('stdout went away')
      }
    }
    const code = await runCli(['flow', 'hash', '-'], io)
    expect(code).toBe(ExitCode.invalid)
    const stderr = io.err.join('')
    expect(stderr).toContain('qflow: internal error: stdout went away\n')
    expect(stderr).toMatch(/TypeError: stdout went away\n\s+at /)
  })
})

describe('qflow --help', () => {
  it('names the commands that talk to a node, and exit code 5 covers secrets and grants', async () => {
    const io = memoryIo(REPO_ROOT)
    expect(await runCli(['--help'], io)).toBe(ExitCode.ok)
    const help = io.out.join('')
    for (const command of ['secret', 'grant', 'template', 'node', 'login']) {
      expect([command, new RegExp(`\\$ qflow ${command} `).test(help)]).toEqual([command, true])
    }
    expect(help).toMatch(/\(secret\)[\s\S]*\(grant\)[\s\S]*\(template\)/)
    expect(help).toContain('5  the node has no such flow, version, execution, secret or grant (HTTP 404)')
  })
})

describe('buildProgram', () => {
  it('records the exit code of a run in the outcome it is given', async () => {
    const io = memoryIo(REPO_ROOT, BROKEN_YAML)
    const outcome: CommandOutcome = { exitCode: ExitCode.ok }
    const program = buildProgram(io, outcome)
    await program.parseAsync(['flow', 'validate', '-'], { from: 'user' })
    expect(outcome.exitCode).toBe(ExitCode.invalid)
  })

  it('has the run, resume, exec, flow, key, node, template, login, logout, secret, grant and token commands with their subcommands', () => {
    const program = buildProgram(memoryIo(REPO_ROOT))
    const names = program.commands.map((c) => [c.name(), c.commands.map((s) => s.name())])
    expect(names).toEqual([
      ['run', []],
      ['resume', []],
      ['exec', ['list', 'status', 'logs', 'verify', 'start', 'trigger', 'pause', 'resume', 'abort']],
      ['flow', ['validate', 'hash', 'sign', 'verify', 'diff', 'history', 'rollback', 'create', 'list', 'show', 'archive']],
      ['key', ['generate', 'did']],
      ['node', ['start', 'status', 'config']],
      ['template', ['approve', 'revoke', 'list']],
      ['login', []],
      ['logout', []],
      ['secret', ['set', 'list', 'delete']],
      ['grant', ['add', 'list', 'revoke']],
      ['token', ['issue', 'revoke', 'revocations']]
    ])
  })
})
