import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createIdentity } from '@qflow/adapters-squid'
import { afterEach, describe, expect, it } from 'vitest'
import { readAllowListFile, type Sandbox, sandbox, signAllowList, templateCid, verifyAllowList } from '../src/index.js'
import { allowListOf, builtTemplate, startSandbox, text } from './fixtures/templates.js'

async function stillServes(box: Sandbox): Promise<void> {
  const { output } = await box.call('echo@1.0.0', 'echo', 'ok')
  expect(text(output)).toBe('ok')
}

describe('approval', () => {
  const boxes: Sandbox[] = []
  const dirs: string[] = []
  afterEach(async () => {
    for (const box of boxes.splice(0)) await box.stop()
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
  })

  it('the CID is CIDv1 raw sha2-256 of the module bytes', async () => {
    const echo = await builtTemplate('echo')
    expect(await templateCid(echo.bytes)).toBe(echo.manifest.module)
    expect(echo.manifest.module.startsWith('bafkrei')).toBe(true)
  })

  it('refuses a module whose hash is not approved, before compiling it', async () => {
    const { box } = await startSandbox(['echo'])
    boxes.push(box)
    // Not even WebAssembly: an unapproved module is refused on its hash alone.
    const garbage = new TextEncoder().encode('not wasm at all')
    const manifest = { module: await templateCid(garbage), name: 'x', version: '1.0.0', exports: ['run'] }
    await expect(box.install(manifest, garbage)).rejects.toMatchObject({ name: 'TemplateNotApprovedError', template: manifest.module })
    const sha = await builtTemplate('sha256')
    await expect(box.install(sha.manifest, sha.bytes)).rejects.toMatchObject({ name: 'TemplateNotApprovedError' })
    await expect(box.call(sha.manifest.module, 'sha256', 'x')).rejects.toMatchObject({ name: 'TemplateNotApprovedError' })
    await stillServes(box)
  })

  it('refuses an approved CID under another name or version', async () => {
    const { box, templates } = await startSandbox(['echo'], {}, ['sha256'])
    boxes.push(box)
    const sha = templates.sha256!
    await expect(box.install({ ...sha.manifest, version: '9.9.9' }, sha.bytes)).rejects.toMatchObject({ name: 'TemplateNotApprovedError' })
    await box.install(sha.manifest, sha.bytes)
    expect(JSON.parse(text((await box.call('sha256@1.0.0', 'sha256', 'abc')).output))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })

  it('refuses a module tampered with after approval', async () => {
    const { box, templates } = await startSandbox(['echo'], {}, ['sha256'])
    boxes.push(box)
    const dir = await mkdtemp(join(tmpdir(), 'qflow-sandbox-'))
    dirs.push(dir)
    const sha = templates.sha256!
    const tampered = Uint8Array.from(sha.bytes)
    tampered[tampered.length - 5] = (tampered[tampered.length - 5]! + 1) & 0xff
    await writeFile(join(dir, 'sha256.wasm'), tampered)
    await writeFile(join(dir, 'sha256.manifest.json'), JSON.stringify(sha.manifest))
    const err = await box.installFiles(join(dir, 'sha256.wasm'), join(dir, 'sha256.manifest.json')).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'TemplateTamperedError', expected: sha.manifest.module, actual: await templateCid(tampered) })
    expect(box.resolve('sha256@1.0.0')).toBeUndefined()
    await stillServes(box)
    // The untouched file installs.
    await writeFile(join(dir, 'sha256.wasm'), sha.bytes)
    await expect(box.installFiles(join(dir, 'sha256.wasm'), join(dir, 'sha256.manifest.json'))).resolves.toMatchObject({ cid: sha.manifest.module })
  })

  it('refuses a module importing a host function it was not granted', async () => {
    const { box, templates } = await startSandbox(['echo'], {}, ['sneaky', 'clock'])
    boxes.push(box)
    await expect(box.install(templates.sneaky!.manifest, templates.sneaky!.bytes)).rejects.toMatchObject({
      name: 'SandboxImportNotGrantedError',
      import: 'extism:host/user.steal_keys'
    })
    // The clock and randomness are refused without their grants, and work with them.
    const { hostFunctions: _granted, ...ungranted } = templates.clock!.manifest
    const refused = await box.install(ungranted, templates.clock!.bytes).catch((e: unknown) => e)
    expect(refused).toMatchObject({ name: 'SandboxImportNotGrantedError' })
    expect(['extism:host/user.clock_now_ms', 'extism:host/user.random_u64']).toContain((refused as { import: string }).import)
    await expect(box.install({ ...templates.clock!.manifest, hostFunctions: ['clock_now_ms'] }, templates.clock!.bytes)).rejects.toMatchObject({
      name: 'SandboxImportNotGrantedError',
      import: 'extism:host/user.random_u64'
    })
    await stillServes(box)
    await box.install(templates.clock!.manifest, templates.clock!.bytes)
    const before = Date.now()
    const now = Number(text((await box.call('clock@0.0.1', 'now', '')).output))
    expect(now).toBeGreaterThanOrEqual(before)
    const randoms = new Set<string>()
    for (let i = 0; i < 3; i++) randoms.add(JSON.parse(text((await box.call('clock@0.0.1', 'random', '')).output)))
    expect(randoms.size).toBe(3)
    expect(now).toBeLessThanOrEqual(Date.now())
  })

  it('refuses a manifest granting what the allow-list does not approve for the template', async () => {
    const dao = createIdentity()
    const clock = await builtTemplate('clock')
    const echo = await builtTemplate('echo')
    // The DAO approved the clock template's bytes, but not its clock grant.
    const allowList = await signAllowList(
      { v: 1, issuer: dao.did, issuedAt: new Date().toISOString(), templates: [{ cid: clock.manifest.module, name: 'clock', version: '0.0.1' }, { cid: echo.manifest.module, name: 'echo', version: '1.0.0' }] },
      dao
    )
    const box = sandbox({ trustedIssuers: [dao.did] })({ allowList })
    boxes.push(box)
    await box.start()
    await expect(box.install(clock.manifest, clock.bytes)).rejects.toMatchObject({ name: 'TemplateNotApprovedError' })
    await expect(box.install({ ...echo.manifest, allowedHosts: ['example.org'] }, echo.bytes)).rejects.toMatchObject({ name: 'TemplateNotApprovedError' })
    await box.install(echo.manifest, echo.bytes)
    await stillServes(box)
  })

  it('refuses a manifest granting a host function the sandbox does not have', async () => {
    const { box, templates } = await startSandbox(['echo'], {}, ['clock'])
    boxes.push(box)
    await expect(box.install({ ...templates.clock!.manifest, hostFunctions: ['read_file'] }, templates.clock!.bytes)).rejects.toMatchObject({
      name: 'InvalidManifestError',
      pointer: '/hostFunctions/0'
    })
    await expect(box.install({ ...templates.clock!.manifest, exports: ['missing'] }, templates.clock!.bytes)).rejects.toMatchObject({
      name: 'InvalidManifestError',
      pointer: '/exports/0'
    })
  })

  it('verifies the allow-list signature and issuer', async () => {
    const dao = createIdentity()
    const other = createIdentity()
    const echo = await builtTemplate('echo')
    const signed = await allowListOf(dao, [echo])
    expect(verifyAllowList(signed, [dao.did]).templates[0]?.cid).toBe(echo.manifest.module)
    expect(() => verifyAllowList(signed, [other.did])).toThrow(expect.objectContaining({ name: 'InvalidAllowListError', pointer: '/list/issuer' }))
    const forged = { ...signed, list: { ...signed.list, templates: [...signed.list.templates, { cid: echo.manifest.module, name: 'evil', version: '1.0.0' }] } }
    expect(() => verifyAllowList(forged, [dao.did])).toThrow(expect.objectContaining({ name: 'InvalidAllowListError', pointer: '/signature' }))
    // Signed by someone else, claiming the DAO as issuer.
    const bySomeoneElse = await signAllowList({ ...signed.list, issuer: other.did }, other)
    expect(() => verifyAllowList({ list: { ...bySomeoneElse.list, issuer: dao.did }, signature: bySomeoneElse.signature }, [dao.did])).toThrow(
      expect.objectContaining({ name: 'InvalidAllowListError', pointer: '/signature' })
    )
    // A sandbox given a bad list fails at construction.
    expect(() => sandbox({ trustedIssuers: [dao.did] })({ allowList: forged })).toThrow(expect.objectContaining({ name: 'InvalidAllowListError' }))
  })

  it('reads a signed allow-list file', async () => {
    const dao = createIdentity()
    const dir = await mkdtemp(join(tmpdir(), 'qflow-sandbox-'))
    dirs.push(dir)
    const signed = await allowListOf(dao, [await builtTemplate('echo')])
    await writeFile(join(dir, 'approved.json'), JSON.stringify(signed))
    expect(await readAllowListFile(join(dir, 'approved.json'), [dao.did])).toEqual(signed.list)
    await writeFile(join(dir, 'broken.json'), '{')
    await expect(readAllowListFile(join(dir, 'broken.json'), [dao.did])).rejects.toMatchObject({ name: 'InvalidAllowListError' })
  })

  it('a new allow-list revokes what it no longer approves', async () => {
    const { box, dao, templates } = await startSandbox(['echo', 'sha256'])
    boxes.push(box)
    await box.updateAllowList(await allowListOf(dao, [templates.echo!]))
    await expect(box.call('sha256@1.0.0', 'sha256', 'abc')).rejects.toMatchObject({ name: 'TemplateNotApprovedError' })
    await stillServes(box)
  })

  it('two sandboxes (two nodes) burn the same fuel for the same template and input', async () => {
    const a = await startSandbox(['json-transform'])
    const b = await startSandbox(['json-transform'], { poolSize: 1 })
    boxes.push(a.box, b.box)
    const input = { data: { a: 1, b: [1, 2, 3], c: 'x' }, pick: ['a', 'b'], rename: { a: 'z' } }
    const runs = []
    for (const box of [a.box, b.box, a.box, b.box]) {
      await box.run('json-transform@1.0.0', 'transform', { data: { warm: 'up' } })
      runs.push((await box.run('json-transform@1.0.0', 'transform', input)).metrics.fuelUsed)
    }
    expect(new Set(runs).size).toBe(1)
  })
})
