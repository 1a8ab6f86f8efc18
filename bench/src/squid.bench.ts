import { generateKeyPairSync, sign, verify } from 'node:crypto'
import {
  createIdentity,
  createKeystore,
  type Delegation,
  delegate,
  issueToken,
  openKeystore,
  sealKeystore,
  signPayload,
  squidVerifier,
  verifyPayload
} from '@qflow/adapters-squid'
import { type Measurement, measure, measureSync } from './harness.js'

const AUDIENCE = 'qflow:node:bench'
const TARGET_TOKENS_PER_SEC = 10_000

async function issueMany(count: number, delegation?: Delegation[], issuer = createIdentity()): Promise<string[]> {
  const tokens: string[] = []
  for (let i = 0; i < count; i++) {
    tokens.push(await issueToken(issuer, delegation === undefined ? { audience: AUDIENCE, capabilities: ['flow:run'] } : { audience: AUDIENCE, delegation }))
  }
  return tokens
}

export default async function bench(): Promise<Measurement[]> {
  const results: Measurement[] = []

  // Baseline: one bare node:crypto ed25519 verification, the floor under every token verification.
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const data = Buffer.alloc(300, 7)
  const sig = sign(null, data, privateKey)
  const raw = measureSync('node:crypto ed25519 verify (baseline, 300 B)', () => verify(null, data, publicKey, sig), { iterations: 5_000, warmup: 500 })
  results.push(raw)

  // Token verification, single-use (replay protection on): every token is fresh.
  const batch = 100
  const warmupCalls = 10
  const timedCalls = 150
  const tokens = await issueMany(batch * (warmupCalls + timedCalls))
  const verifier = squidVerifier({ audience: AUDIENCE })()
  let next = 0
  const tokenVerify = await measure(
    'verify token (did:key, single-use, replay cache on)',
    async () => {
      for (let i = 0; i < batch; i++) await verifier.verifyToken(tokens[next++] as string)
    },
    { iterations: timedCalls, warmup: warmupCalls, opsPerCall: batch }
  )
  tokenVerify.extra = {
    targetPerSec: TARGET_TOKENS_PER_SEC,
    pass: tokenVerify.opsPerSec >= TARGET_TOKENS_PER_SEC ? 'yes' : 'NO',
    rawVerifyUs: raw.medianUs,
    overheadUs: tokenVerify.medianUs - raw.medianUs
  }
  results.push(tokenVerify)

  // The same tokens again without replay protection (tokens reusable within their lifetime).
  const reusable = squidVerifier({ audience: AUDIENCE, replayProtection: false })()
  let again = 0
  results.push(
    await measure(
      'verify token (replay protection off)',
      async () => {
        for (let i = 0; i < batch; i++) await reusable.verifyToken(tokens[again++ % tokens.length] as string)
      },
      { iterations: timedCalls, warmup: warmupCalls, opsPerCall: batch }
    )
  )

  const alice = createIdentity()
  results.push(await measure('issue token', () => issueToken(alice, { audience: AUDIENCE }), { iterations: 3_000, warmup: 300 }))

  // Detached payload signatures over canonical bytes (a 20-field object).
  const payload = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`field${i}`, `value ${i}`]))
  results.push(await measure('sign payload (20 fields, canonical bytes)', () => signPayload(alice, payload), { iterations: 3_000, warmup: 300 }))
  const signature = await signPayload(alice, payload)
  const payloadVerify = await measure('verify payload (20 fields, canonical bytes)', () => verifyPayload(payload, signature), { iterations: 3_000, warmup: 300 })
  if (!(await verifyPayload(payload, signature))) throw new Error('payload signature did not verify')
  results.push(payloadVerify)

  // Delegation chain root → a → b → c.
  const [root, a, b, c] = [createIdentity(), createIdentity(), createIdentity(), createIdentity()] as const
  const d1 = await delegate(root, { subject: a.did, capabilities: ['flow:read', 'flow:run', 'flow:admin'] })
  const d2 = await delegate(a, { subject: b.did, capabilities: ['flow:read', 'flow:run'], parent: d1 })
  const chain = [d1, d2, await delegate(b, { subject: c.did, capabilities: ['flow:run'], parent: d2 })]
  const cold = squidVerifier({ delegationCacheSize: 0 })()
  results.push(await measure('verify delegation chain, depth 3 (3 signatures checked)', () => cold.verifyDelegation(chain, c.did), { iterations: 2_000, warmup: 200 }))
  const warm = squidVerifier()()
  const warmChain = await measure('verify delegation chain, depth 3 (signatures cached)', () => warm.verifyDelegation(chain, c.did), { iterations: 5_000, warmup: 500 })
  warmChain.extra = { cachedBecause: 'signature validity never changes; revocation and time are re-checked' }
  results.push(warmChain)

  // A sub-identity's single-use token carrying the depth-3 chain.
  const chainedTokens = await issueMany(batch * (warmupCalls + 50), chain, c)
  let chained = 0
  results.push(
    await measure(
      'verify token with embedded depth-3 chain (single-use)',
      async () => {
        for (let i = 0; i < batch; i++) await warm.verifyToken(chainedTokens[chained++] as string, { audience: AUDIENCE })
      },
      { iterations: 50, warmup: warmupCalls, opsPerCall: batch }
    )
  )

  // Keystore unlock: scrypt N=2^15 r=8 p=1 + AES-256-GCM.
  const keystore = createKeystore([alice, root])
  const sealed = await sealKeystore(keystore, 'bench passphrase')
  const unlock = await measure('unlock keystore (scrypt 2^15,8,1 + AES-256-GCM)', () => openKeystore(sealed, 'bench passphrase'), { iterations: 15, warmup: 2 })
  unlock.extra = { targetMedianMs: 200, pass: unlock.medianUs <= 200_000 ? 'yes' : 'NO' }
  results.push(unlock)
  return results
}
