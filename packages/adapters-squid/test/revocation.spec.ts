import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  createIdentity,
  createRevocationRegistry,
  delegate,
  delegationId,
  type RevocationEntry,
  squidVerifier,
  verifyRevocationList
} from '../src/index.js'
import { manualClock, rejection, tempDirPerTest } from './fixtures/index.js'

async function someIds(n: number): Promise<string[]> {
  const parent = createIdentity()
  const ids: string[] = []
  for (let i = 0; i < n; i++) ids.push(delegationId(await delegate(parent, { subject: createIdentity().did })))
  return ids
}

describe('revocation registry', () => {
  const temp = tempDirPerTest()

  it('revokes at once, tells subscribers, and is idempotent', async () => {
    const clock = manualClock()
    const registry = await createRevocationRegistry({ clock })
    const [id, other] = (await someIds(2)) as [string, string]
    const seen: RevocationEntry[] = []
    const unsubscribe = registry.subscribe((entry) => seen.push(entry))
    registry.subscribe(() => {
      throw new Error('a broken subscriber')
    })
    const entry = await registry.revoke(id, 'key leaked')
    expect(entry).toEqual({ id, revokedAt: clock(), reason: 'key leaked' })
    expect(registry.isRevoked(id)).toBe(true)
    expect(registry.isRevoked(other)).toBe(false)
    clock.advance(1000)
    expect(await registry.revoke(id)).toEqual(entry)
    unsubscribe()
    await registry.revoke(other)
    expect(seen).toEqual([entry])
    expect(registry.size).toBe(2)
    expect((await rejection(registry.revoke('not-an-id'))).name).toBe('InvalidDelegationIdError')
  })

  it('persists to its own file atomically and reloads', async () => {
    const path = join(temp.dir, 'revocations.json')
    const registry = await createRevocationRegistry({ path })
    const ids = await someIds(3)
    await Promise.all(ids.map((id) => registry.revoke(id)))
    const reopened = await createRevocationRegistry({ path })
    expect(reopened.entries().map((e) => e.id).sort()).toEqual([...ids].sort())
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ format: 'qflow-squid-revocations', v: 1 })
    expect((await stat(path)).mode & 0o777).toBe(0o644)
  })

  it('refuses a corrupt file instead of forgetting revocations', async () => {
    const path = join(temp.dir, 'revocations.json')
    for (const body of ['not json', '{"format":"qflow-squid-revocations","v":1,"entries":[{"id":"x"}]}', '[]']) {
      await writeFile(path, body)
      expect((await rejection(createRevocationRegistry({ path }))).name).toBe('RevocationStoreCorruptError')
    }
  })

  it('exports signed lists that trusting registries import, and refuses the rest', async () => {
    const operator = createIdentity()
    const source = await createRevocationRegistry()
    const ids = await someIds(2)
    for (const id of ids) await source.revoke(id)
    const list = await source.exportList(operator, 1234)
    expect(list).toMatchObject({ v: 1, issuer: operator.did, issuedAt: 1234, revoked: [...ids].sort() })
    expect(await verifyRevocationList(JSON.parse(JSON.stringify(list)))).toEqual(list)

    const target = await createRevocationRegistry()
    const events: string[] = []
    target.subscribe((entry) => events.push(entry.id))
    expect((await rejection(target.importList(list, { trusted: [createIdentity().did] }))).name).toBe('RevocationListError')
    expect(target.size).toBe(0)
    const added = await target.importList(list, { trusted: [operator.did] })
    expect(added.map((e) => [e.id, e.source])).toEqual([...ids].sort().map((id) => [id, operator.did]))
    expect(events.sort()).toEqual([...ids].sort())
    expect(await target.importList(list, { trusted: [operator.did] })).toEqual([])

    const [extra] = (await someIds(1)) as [string]
    const tampered = { ...list, revoked: [...list.revoked, extra] }
    expect((await rejection(target.importList(tampered, { trusted: [operator.did] }))).name).toBe('InvalidSignatureError')
    expect(target.isRevoked(extra)).toBe(false)
  })

  it('never crashes on random revocation lists', async () => {
    const target = await createRevocationRegistry()
    const operator = createIdentity()
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue(), fc.record({ v: fc.constant(1), issuer: fc.constant(operator.did), issuedAt: fc.nat(), revoked: fc.array(fc.string()), proof: fc.string() })), async (list) => {
        const err = await rejection(target.importList(list, { trusted: [operator.did] }))
        expect(['RevocationListError', 'InvalidSignatureError']).toContain(err.name)
      }),
      { numRuns: 200 }
    )
    expect(target.size).toBe(0)
  })

  it('revocations reach verifiers sharing the registry immediately', async () => {
    const root = createIdentity()
    const registry = await createRevocationRegistry()
    const verifierA = squidVerifier()({ revocations: registry })
    const verifierB = squidVerifier()({ revocations: registry })
    const child = createIdentity()
    const d = await delegate(root, { subject: child.did, capabilities: ['x'] })
    await verifierA.verifyDelegation([d], child.did)
    await registry.revoke(delegationId(d))
    expect((await rejection(verifierA.verifyDelegation([d], child.did))).name).toBe('DelegationRevokedError')
    expect((await rejection(verifierB.verifyDelegation([d], child.did))).name).toBe('DelegationRevokedError')
  })
})
