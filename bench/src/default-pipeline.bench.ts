import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { qerberos } from '@qflow/adapters-qerberos'
import { qindex } from '@qflow/adapters-qindex'
import { memoryKeyring, qlock } from '@qflow/adapters-qlock'
import { createEmbeddedQonsent, createGrant } from '@qflow/adapters-qonsent'
import { createIdentity, issueToken, squidVerifier, x25519PublicKeyFromDid } from '@qflow/adapters-squid'
import { createDefaultPipeline } from '@qflow/pipeline'
import { type Measurement, measure } from './harness.js'

/**
 * The whole default pipeline over the real adapters for one operation: a fresh identity token
 * verified (sQuid, single-use), a consent check against 10,000 grants (Qonsent), an index record
 * stored (Qindex, SQLite on disk) or none, and integrity + anomaly inspection (Qerberos).
 */
export default async function bench(): Promise<Measurement[]> {
  const dir = await mkdtemp(join(tmpdir(), 'qflow-bench-pipeline-'))
  const node = createIdentity()
  const user = createIdentity()
  const verifier = squidVerifier()()
  const lock = qlock()({ signer: node, verifier, keyring: memoryKeyring(), recipientKeys: { x25519PublicKey: async (d) => x25519PublicKeyFromDid(d) } })
  const consent = await createEmbeddedQonsent({ persistence: 'memory', auditChecks: false })
  for (let i = 0; i < 10_000; i++) {
    await consent.grant(createGrant({ subject: `did:key:z6Mkother${i % 1000}`, resource: `qflow:flow:f${i}`, actions: ['read', 'execute'], grantedBy: node.did }))
  }
  await consent.grant(createGrant({ subject: user.did, resource: 'qflow:flow:*', actions: ['read', 'write', 'execute'], grantedBy: node.did }))
  const index = qindex({ path: join(dir, 'index.sqlite') })()
  await index.start()
  const monitor = qerberos()()
  const pipeline = createDefaultPipeline({ squid: verifier, qlock: lock, qonsent: consent, qindex: index, qerberos: monitor, audience: 'qflow', trustedActors: [node.did] })
  try {
    const n = 3_000
    const tokens = await Promise.all(Array.from({ length: 2 * n + 400 }, () => issueToken(user, { audience: 'qflow', ttlMs: 600_000 })))
    let next = 0
    const payload = { orderId: 'o-1', items: [{ sku: 'a', qty: 2 }], total: 42 }
    const plain = await measure(
      'default pipeline, token + consent + inspect (no index record)',
      () => pipeline.run({ kind: 'exec.start', actor: { did: user.did, credentials: { token: tokens[next++] as string } }, resource: 'qflow:flow:orders', action: 'execute', payload }),
      { warmup: 200, iterations: n }
    )
    plain.extra = { targetMedianUs: 150, pass: plain.medianUs <= 150 ? 'yes' : 'NO' }
    let k = 0
    const indexed = await measure(
      'same, with an index record stored',
      () =>
        pipeline.run({
          kind: 'flow.create',
          actor: { did: user.did, credentials: { token: tokens[next++] as string } },
          resource: 'qflow:flow:orders',
          action: 'write',
          payload,
          index: { key: `flow-${k++}`, kind: 'flow', owner: user.did, name: 'orders', tags: ['sales'], status: 'active', createdAt: 1, updatedAt: 2 }
        }),
      { warmup: 200, iterations: n }
    )
    let v = 0
    const vouched = await measure(
      'a step operation vouched for by the node (no token)',
      () =>
        pipeline.run({
          kind: 'exec.step',
          actor: { did: user.did, credentials: { vouchedBy: node.did } },
          resource: 'qflow:flow:orders',
          action: 'execute',
          attributes: { executionId: `e${v++}`, stepId: 's' }
        }),
      { warmup: 500, iterations: 10_000 }
    )
    return [plain, indexed, vouched]
  } finally {
    await index.stop()
    await consent.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
