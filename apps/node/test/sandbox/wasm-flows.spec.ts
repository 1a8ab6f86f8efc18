import { createHash } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { qflow, REPO_ROOT, useTempDir, writeFiles } from '../fixtures/cli.js'
import { type RecordingServer, recordingServer } from '../fixtures/node.js'

const SIGNUP = 'examples/flows/wasm-signup-screening.yaml'
const CSV_IMPORT = 'examples/flows/wasm-csv-import.yaml'
const EXAMPLE_TEMPLATES = join(REPO_ROOT, 'packages/sandbox/templates')

interface RunReport {
  status: string
  output?: unknown
  error?: { name?: string; message?: string; stepId?: string }
}

/** `qflow --json run <flow> --input <json> -d <dir>`: the exit code and the run report. */
async function run(flow: string, input: unknown, dataDir: string, env: Record<string, string> = {}): Promise<{ code: number | null; report: RunReport; stderr: string }> {
  const result = await qflow(['--json', 'run', flow, '--input', JSON.stringify(input), '-d', dataDir, '--no-progress'], { env })
  if (result.stdout.trim() === '') throw new Error(`qflow run exited ${result.code} with no report: ${result.stderr}`)
  return { code: result.code, report: JSON.parse(result.stdout) as RunReport, stderr: result.stderr }
}

async function approveExamples(dataDir: string): Promise<void> {
  const approved = await qflow(['--json', 'template', 'approve', '--examples', '-d', dataDir])
  expect(approved.code, approved.stderr).toBe(0)
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

describe('wasm.run example flows through the qflow CLI', () => {
  const dir = useTempDir()

  it('approving the examples signs them onto the allow-list and caches them by CID', async () => {
    const result = await qflow(['--json', 'template', 'approve', '--examples', '-d', dir()])
    expect(result.code, result.stderr).toBe(0)
    const report = JSON.parse(result.stdout) as { approved: { name: string; cid: string }[]; skipped: string[]; issuer: string }
    expect(report.approved.map((t) => t.name).sort()).toEqual(['csv', 'echo', 'json-transform', 'sha256', 'validate'])
    expect(report.skipped).toEqual(['http-fetch'])
    const files = await readdir(join(dir(), 'templates'))
    for (const { cid } of report.approved) expect(files).toEqual(expect.arrayContaining([`${cid}.wasm`, `${cid}.manifest.json`]))
    const signed = JSON.parse(await readFile(join(dir(), 'templates/allow-list.json'), 'utf8')) as { list: { issuer: string; templates: unknown[] }; signature: string }
    expect(signed.list.issuer).toBe(report.issuer)
    expect(signed.list.templates).toHaveLength(5)
    const listed = await qflow(['--json', 'template', 'list', '-d', dir()])
    expect(listed.code).toBe(0)
    expect((JSON.parse(listed.stdout) as { templates: { status: string }[] }).templates.map((t) => t.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok'])
  })

  it('wasm-signup-screening: validate, json-transform and sha256 accept a good sign-up and reject a bad one', async () => {
    await approveExamples(dir())
    const good = await run(SIGNUP, { email: 'Ada@Example.org', name: 'Ada', age: 36, country: 'GB', password: 'x' }, dir())
    expect(good.code, good.stderr).toBe(0)
    expect(good.report).toMatchObject({ status: 'completed' })
    expect(good.report.output).toEqual({
      accepted: true,
      profile: { displayName: 'Ada', country: 'GB', email: 'Ada@Example.org' },
      emailSha256: sha256('ada@example.org')
    })
    const bad = await run(SIGNUP, { email: 'x@y.z', age: 9, country: 'GBR' }, dir())
    expect(bad.code).toBe(0)
    expect(bad.report.output).toMatchObject({ accepted: false })
    const errors = (bad.report.output as { errors: { field: string }[] }).errors
    expect(errors.map((e) => e.field).sort()).toEqual(['age', 'country', 'name'])
  })

  it('wasm-csv-import: csv (with its delimiter from the step config), sha256 and json-transform', async () => {
    await approveExamples(dir())
    const csv = 'order;customer;amount\nA-1;Ada;12,50\nA-2;Zoë;7,25\nA-3;Ada;1\n'
    const result = await run(CSV_IMPORT, { csv }, dir())
    expect(result.code, result.stderr).toBe(0)
    expect(result.report.output).toEqual({ orders: 3, customers: ['Ada', 'Zoë'], total: 20.75, sha256: sha256(csv) })
  })

  it('without approval a wasm.run step fails with TemplateNotApprovedError, and a revoked template is refused again', async () => {
    const fresh = await run(CSV_IMPORT, { csv: 'a;b\n1;2\n' }, dir())
    expect(fresh.code).toBe(1)
    expect(fresh.report).toMatchObject({ status: 'failed', error: { name: 'TemplateNotApprovedError', stepId: 'parse' } })

    await approveExamples(dir())
    const revoked = await qflow(['--json', 'template', 'revoke', 'csv@1.0.0', '-d', dir()])
    expect(revoked.code, revoked.stderr).toBe(0)
    const gone = (JSON.parse(revoked.stdout) as { revoked: { cid: string }[] }).revoked[0]?.cid as string
    expect(await readdir(join(dir(), 'templates'))).not.toContain(`${gone}.wasm`)
    const after = await run(CSV_IMPORT, { csv: 'a;b\n1;2\n' }, dir())
    expect(after.report).toMatchObject({ status: 'failed', error: { name: 'TemplateNotApprovedError', stepId: 'parse' } })
    expect((await qflow(['template', 'revoke', 'csv@1.0.0', '-d', dir()])).code).toBe(1)
  })

  it('a cached module changed after approval is refused (TemplateTamperedError) and template list flags it', async () => {
    await approveExamples(dir())
    const manifest = JSON.parse(await readFile(join(EXAMPLE_TEMPLATES, 'sha256.manifest.json'), 'utf8')) as { module: string }
    const path = join(dir(), 'templates', `${manifest.module}.wasm`)
    const bytes = await readFile(path)
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1)
    await writeFile(path, bytes)
    const result = await run(SIGNUP, { email: 'ada@example.org', name: 'Ada' }, dir())
    expect(result.report).toMatchObject({ status: 'failed', error: { name: 'TemplateTamperedError', stepId: 'fingerprint' } })
    const listed = await qflow(['--json', 'template', 'list', '-d', dir()])
    expect(listed.code).toBe(1)
    const states = (JSON.parse(listed.stdout) as { templates: { name: string; status: string }[] }).templates
    expect(states.find((t) => t.name === 'sha256')?.status).toBe('tampered')
    expect(states.filter((t) => t.status === 'ok')).toHaveLength(4)
  })

  it('approve refuses a module whose bytes do not match its manifest, and writes nothing', async () => {
    await writeFiles(dir(), { 'bad/echo.manifest.json': await readFile(join(EXAMPLE_TEMPLATES, 'sha256.manifest.json'), 'utf8') })
    await writeFile(join(dir(), 'bad/echo.wasm'), await readFile(join(EXAMPLE_TEMPLATES, 'echo.wasm')))
    const result = await qflow(['--json', 'template', 'approve', join(dir(), 'bad/echo.wasm'), '-d', join(dir(), 'node')])
    expect(result.code).toBe(1)
    expect(JSON.parse(result.stderr.trim().split('\n').at(-1) as string)).toMatchObject({ error: { name: 'TemplateTamperedError' } })
    expect(await readdir(join(dir(), 'node/templates')).catch(() => [])).toEqual([])
  })

  it('an allow-list changed after it was signed stops the run before anything executes', async () => {
    await approveExamples(dir())
    const file = join(dir(), 'templates/allow-list.json')
    const signed = JSON.parse(await readFile(file, 'utf8')) as { list: { templates: unknown[] } }
    signed.list.templates = signed.list.templates.slice(1)
    await writeFile(file, JSON.stringify(signed))
    const result = await qflow(['--json', 'run', SIGNUP, '--input', '{"email":"a@b.c"}', '-d', dir(), '--no-progress'])
    expect(result.code).toBe(1)
    expect(JSON.parse(result.stderr.trim().split('\n').at(-1) as string)).toMatchObject({ error: { name: 'InvalidAllowListError' } })
    expect((await qflow(['template', 'list', '-d', dir()])).code).toBe(1)
  })
})

describe('outbound HTTP from a template through the node', () => {
  const dir = useTempDir()
  let server: RecordingServer
  beforeAll(async () => {
    server = await recordingServer()
  })
  afterAll(async () => {
    await server.close()
  })

  const flow = (url: string) => ({
    id: 'wasm-fetch',
    name: 'wasm-fetch',
    version: '1.0.0',
    owner: 'did:key:z6MkjGszTiov4fQ5AFW3q8dVSbz36oTcDFFHqhW7X1hQWWE6',
    steps: [{ id: 'get', type: 'task', action: 'wasm.run', params: { module: 'http-fetch@1.0.0', input: { url, method: 'POST', body: '{{ $string(input) }}' } }, retryPolicy: { maxAttempts: 1 } }]
  })

  it('reaches an approved host only where the node allows its network, with the step idempotency key', async () => {
    const approved = await qflow(['--json', 'template', 'approve', join(EXAMPLE_TEMPLATES, 'http-fetch.wasm'), '--allow-host', '127.0.0.1', '-d', dir()])
    expect(approved.code, approved.stderr).toBe(0)
    expect(JSON.parse(approved.stdout)).toMatchObject({ approved: [{ name: 'http-fetch', allowedHosts: ['127.0.0.1'] }] })
    await writeFiles(dir(), {
      'fetch.json': JSON.stringify(flow(`${server.url}/hook`)),
      'elsewhere.json': JSON.stringify({ ...flow(server.url.replace('127.0.0.1', 'localhost')), id: 'wasm-elsewhere', name: 'wasm-elsewhere' })
    })

    const refused = await run(join(dir(), 'fetch.json'), { n: 1 }, dir())
    expect(refused.report).toMatchObject({ status: 'failed', error: { name: 'PrivateAddressError', stepId: 'get' } })
    expect(server.requests).toHaveLength(0)

    const env = { QFLOW_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8' }
    const allowed = await run(join(dir(), 'fetch.json'), { n: 2 }, dir(), env)
    expect(allowed.code, allowed.stderr).toBe(0)
    expect(allowed.report.output).toEqual({ status: 200, body: JSON.stringify({ path: '/hook', n: 1 }) })
    expect(server.requests).toHaveLength(1)
    expect(server.requests[0]).toMatchObject({ method: 'POST', path: '/hook', body: '{"n":2}' })
    expect(server.requests[0]?.idempotencyKey).toMatch(/:http:1$/)

    const elsewhere = await run(join(dir(), 'elsewhere.json'), { n: 3 }, dir(), env)
    expect(elsewhere.report).toMatchObject({ status: 'failed', error: { name: 'SandboxHostNotAllowedError', stepId: 'get' } })
    expect(server.requests).toHaveLength(1)
  })
})
