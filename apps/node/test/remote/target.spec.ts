import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ExitCode } from '../../src/constants.js'
import type { CliIo } from '../../src/io.js'
import {
  credentialsPath,
  readCredentials,
  remoteErrorReport,
  remoteExitCode,
  removeCredentials,
  requireClient,
  resolveTarget,
  writeCredentials
} from '../../src/commands/remote-target.js'
import { ApiForbiddenError, ApiNotFoundError, ApiUnauthenticatedError, ApiValidationError, NodeUnreachableError, type QflowApiError } from '../../src/client/errors.js'
import { memoryIo, useTempDir } from '../fixtures/cli.js'

function ioWith(dir: string, env: Record<string, string>): CliIo & { err: string[] } {
  return { ...memoryIo(dir), env: { XDG_CONFIG_HOME: join(dir, 'config'), ...env } }
}

const apiError = (Class: typeof QflowApiError, status: number, code: string) =>
  new Class({ status, code, message: `${code} happened`, method: 'GET', url: 'http://n/api/v1/flows', requestId: 'req-1', details: { resource: 'qflow:flow:x' } })

describe('the node a command talks to', () => {
  const tmp = useTempDir()

  it('keeps the login in $XDG_CONFIG_HOME/qflow/credentials.json, mode 0600 in a 0700 directory', async () => {
    const io = ioWith(tmp(), {})
    expect(credentialsPath(io)).toBe(join(tmp(), 'config', 'qflow', 'credentials.json'))
    expect(await readCredentials(io)).toBeUndefined()
    const { path, login } = await writeCredentials(io, { api: 'http://127.0.0.1:7070', token: 'tok', subject: 'did:key:z6Mk' })
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(join(tmp(), 'config', 'qflow'))).mode & 0o777).toBe(0o700)
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(login)
    expect(login).toMatchObject({ version: 1, api: 'http://127.0.0.1:7070', token: 'tok', subject: 'did:key:z6Mk' })
    expect(await readCredentials(io)).toEqual(login)
    expect(await removeCredentials(io)).toEqual(login)
    expect(await removeCredentials(io)).toBeUndefined()
    expect(credentialsPath(memoryIo(tmp()))).toMatch(/\.config\/qflow\/credentials\.json$/)
  })

  it('resolves --api over QFLOW_API over the saved login, and an explicit --data-dir to local', async () => {
    const io = ioWith(tmp(), { QFLOW_API: 'http://env.example:7070/' })
    await writeCredentials(io, { api: 'http://login.example:7070', token: 'login-token' })
    expect(await resolveTarget({ api: 'http://flag.example:7070/api/v1' }, io)).toEqual({ api: 'http://flag.example:7070', token: undefined, apiFrom: 'flag', tokenFrom: undefined })
    expect(await resolveTarget({}, io)).toEqual({ api: 'http://env.example:7070', token: undefined, apiFrom: 'env', tokenFrom: undefined })
    expect(await resolveTarget({ dataDir: './data' }, io)).toBeUndefined()
    const loginOnly = ioWith(tmp(), {})
    expect(await resolveTarget({}, loginOnly)).toEqual({ api: 'http://login.example:7070', token: 'login-token', apiFrom: 'login', tokenFrom: 'login' })
    // the saved token goes only to the node it was saved for
    expect(await resolveTarget({ api: 'http://login.example:7070/' }, loginOnly)).toMatchObject({ token: 'login-token', apiFrom: 'flag', tokenFrom: 'login' })
    const withToken = ioWith(tmp(), { QFLOW_TOKEN: 'env-token' })
    expect(await resolveTarget({}, withToken)).toMatchObject({ api: 'http://login.example:7070', token: 'env-token', tokenFrom: 'env' })
    expect(await resolveTarget({}, ioWith(join(tmp(), 'elsewhere'), {}))).toBeUndefined()
  })

  it('fails with typed errors when no node or no token is known, or the credentials file is broken', async () => {
    const io = ioWith(tmp(), {})
    await expect(requireClient({}, io)).rejects.toMatchObject({ name: 'NodeNotConfiguredError' })
    await expect(requireClient({ api: 'http://127.0.0.1:7070' }, io)).rejects.toMatchObject({ name: 'MissingTokenError', api: 'http://127.0.0.1:7070' })
    await expect(requireClient({ api: 'gopher://x' }, io)).rejects.toMatchObject({ name: 'InvalidApiUrlError' })
    await mkdir(join(tmp(), 'config', 'qflow'), { recursive: true })
    await writeFile(credentialsPath(io), '{"api": 1}')
    await expect(resolveTarget({}, io)).rejects.toMatchObject({ name: 'CredentialsFileError', path: credentialsPath(io) })
    await writeFile(credentialsPath(io), 'not json')
    await expect(readCredentials(io)).rejects.toMatchObject({ name: 'CredentialsFileError' })
  })

  it('warns when the saved login is readable by others', async () => {
    const io = ioWith(tmp(), {})
    const { path } = await writeCredentials(io, { api: 'http://127.0.0.1:7070', token: 't' })
    await resolveTarget({}, io)
    expect(io.err).toEqual([])
    const { chmod } = await import('node:fs/promises')
    await chmod(path, 0o644)
    await resolveTarget({}, io)
    expect(io.err.join('')).toContain(`${path} is readable by others`)
  })

  it('maps errors of talking to a node to exit codes and reports', () => {
    expect(remoteExitCode(apiError(ApiUnauthenticatedError, 401, 'UNAUTHENTICATED'))).toBe(ExitCode.unauthenticated)
    expect(remoteExitCode(apiError(ApiForbiddenError, 403, 'FORBIDDEN'))).toBe(ExitCode.forbidden)
    expect(remoteExitCode(apiError(ApiNotFoundError, 404, 'NOT_FOUND'))).toBe(ExitCode.notFound)
    expect(remoteExitCode(apiError(ApiValidationError, 400, 'VALIDATION_FAILED'))).toBe(ExitCode.invalid)
    expect(remoteExitCode(new NodeUnreachableError('http://n', 'refused'))).toBe(ExitCode.unreachable)
    const report = remoteErrorReport(apiError(ApiForbiddenError, 403, 'FORBIDDEN'))
    expect(report).toEqual({
      message: 'FORBIDDEN happened [FORBIDDEN, HTTP 403] (request req-1)',
      details: { name: 'ApiForbiddenError', status: 403, code: 'FORBIDDEN', details: { resource: 'qflow:flow:x' }, requestId: 'req-1' },
      exitCode: ExitCode.forbidden
    })
    expect(remoteErrorReport(new Error('plain'))).toBeUndefined()
    expect(remoteErrorReport(new NodeUnreachableError('http://n/api/v1/flows', 'timeout'))).toMatchObject({ details: { name: 'NodeUnreachableError', url: 'http://n/api/v1/flows', reason: 'timeout' }, exitCode: 6 })
  })
})
