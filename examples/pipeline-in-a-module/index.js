// A mail module (not Qflow) running its own operations through the universal pipeline.
import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { createDefaultPipeline, createOperationContext, operationSigningBytes, PipelineHaltedError } from '@qflow/pipeline'

const { publicKey, privateKey } = generateKeyPairSync('ed25519')
const alice = 'did:key:z6MkAlice' // in the ecosystem this is an sQuid identity
const sent = []
const pipeline = createDefaultPipeline({
  squid: { verifySignature: async (did, data, sig) => did === alice && verify(null, data, publicKey, sig) },
  qonsent: { check: async (r) => (r.action === 'write' && r.subject === alice ? { allowed: true, status: 'allowed', reason: 'sender' } : { allowed: false, status: 'denied', reason: 'only Alice sends' }) },
  qindex: { put: async (record) => void sent.push(record.key) },
  qerberos: { inspect: async (op) => (op.payload?.body?.length > 10_000 ? { verdict: 'DENY', code: 'TOO_LARGE', reason: 'body too large' } : { verdict: 'ALLOW' }) }
})

async function sendMail(actor, key, message) {
  const op = { kind: 'mail.send', actor: { did: actor }, resource: `qmail:mailbox:${message.to}`, action: 'write', payload: message, issuedAt: Date.now(), index: { key: message.id, kind: 'mail', owner: actor, createdAt: 0, updatedAt: 0 } }
  const signature = { alg: 'EdDSA', signer: actor, value: sign(null, operationSigningBytes(createOperationContext(op, pipeline.version)), key) }
  try {
    await pipeline.run({ ...op, actor: { did: actor, credentials: { signature } } })
    return 'sent'
  } catch (err) {
    if (err instanceof PipelineHaltedError) return `refused at ${err.stage}: ${err.code}`
    throw err
  }
}

console.log(await sendMail(alice, privateKey, { id: 'm1', to: 'bob', body: 'hello' }))
console.log(await sendMail(alice, generateKeyPairSync('ed25519').privateKey, { id: 'm2', to: 'bob', body: 'forged' }))
console.log(await sendMail(alice, privateKey, { id: 'm3', to: 'bob', body: 'x'.repeat(20_000) }))
console.log(`indexed: ${sent.join(',')}`)
