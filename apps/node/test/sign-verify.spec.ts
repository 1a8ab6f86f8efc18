import { generateKeyPairSync } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ed25519Verifier, flowHash, loadFlow, parseFlow, verifyFlow } from '@qflow/flow-schema'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { qflow, useTempDir, writeFiles } from './fixtures/cli.js'
import { BROKEN_YAML, GREETING_JSON, GREETING_YAML } from './fixtures/flows.js'

interface SignatureBlock {
  alg: string
  signer: string
  value: string
  hash: string
  signedAt?: string
}

describe('qflow flow sign and verify', () => {
  const tmp = useTempDir()

  /** Generates a key in the temp dir with the CLI itself and returns its did. */
  async function newKey(name = 'me.pem'): Promise<string> {
    const result = await qflow(['key', 'generate', '--out', name], { cwd: tmp() })
    expect(result.code).toBe(0)
    return result.stdout.trim()
  }

  it('signs YAML into YAML: the source text kept byte for byte, a signature block appended', async () => {
    const did = await newKey()
    await writeFiles(tmp(), { 'g.yaml': GREETING_YAML })
    const result = await qflow(['flow', 'sign', 'g.yaml', '--key', 'me.pem', '--out', 'g.signed.yaml'], { cwd: tmp() })
    expect(result.code).toBe(0)
    const hash = flowHash(loadFlow(GREETING_YAML))
    expect(result.stdout).toBe(`signed g.yaml as ${did} (not the owner did:key:z6Mkor76npWMRp5n8itqirHRnoD3kafYgWUejtyHrQULYacM)\nhash ${hash}\nwrote g.signed.yaml\n`)
    const text = await readFile(join(tmp(), 'g.signed.yaml'), 'utf8')
    expect(text.startsWith(GREETING_YAML)).toBe(true)
    expect(text).toContain('# the last step logs the greeting')
    const signed = parseYaml(text) as { signature: SignatureBlock }
    expect(signed.signature).toMatchObject({ alg: 'EdDSA', signer: did, hash })
    expect(signed.signature.value).toMatch(/^[A-Za-z0-9_-]{86}$/)
    expect(Number.isNaN(Date.parse(signed.signature.signedAt ?? ''))).toBe(false)
    // the library agrees the written file carries a valid signature
    const verification = await verifyFlow(loadFlow(text), ed25519Verifier())
    expect(verification).toMatchObject({ valid: true, signer: did, hash })
  })

  it('signs JSON into JSON (member order kept) and writes to stdout without --out', async () => {
    const did = await newKey()
    await writeFiles(tmp(), { 'g.json': GREETING_JSON })
    const result = await qflow(['flow', 'sign', 'g.json', '-k', 'me.pem', '--no-timestamp'], { cwd: tmp() })
    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    const signed = JSON.parse(result.stdout) as Record<string, unknown> & { signature: SignatureBlock }
    expect(Object.keys(signed)).toEqual(['steps', 'metadata', 'id', 'owner', 'version', 'name', 'signature'])
    expect(signed.signature).toEqual({ alg: 'EdDSA', signer: did, value: expect.any(String), hash: flowHash(loadFlow(GREETING_JSON)) })
  })

  it('verifies a signed flow: exit 0, the signer and the hash', async () => {
    const did = await newKey()
    await writeFiles(tmp(), { 'g.yaml': GREETING_YAML })
    await qflow(['flow', 'sign', 'g.yaml', '--key', 'me.pem', '--out', 's.yaml'], { cwd: tmp() })
    const result = await qflow(['flow', 'verify', 's.yaml'], { cwd: tmp() })
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`s.yaml: valid signature by ${did} (not the owner `)
    expect(result.stdout).toContain(`hash ${flowHash(loadFlow(GREETING_YAML))}`)
    const json = await qflow(['--json', 'flow', 'verify', 's.yaml', '--signer', did], { cwd: tmp() })
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ file: 's.yaml', valid: true, signer: did, signerIsOwner: false })
  })

  it('says when the signer is the owner', async () => {
    const did = await newKey()
    await writeFiles(tmp(), { 'mine.yaml': GREETING_YAML.replace(/^owner: .*$/m, `owner: ${did}`) })
    await qflow(['flow', 'sign', 'mine.yaml', '--key', 'me.pem', '--out', 's.yaml'], { cwd: tmp() })
    const result = await qflow(['flow', 'verify', 's.yaml'], { cwd: tmp() })
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`valid signature by ${did} (the owner)`)
  })

  it('rejects a tampered signed flow with exit 1 and reason hash-mismatch', async () => {
    await newKey()
    await writeFiles(tmp(), { 'g.yaml': GREETING_YAML })
    await qflow(['flow', 'sign', 'g.yaml', '--key', 'me.pem', '--out', 's.yaml'], { cwd: tmp() })
    const path = join(tmp(), 's.yaml')
    const text = await readFile(path, 'utf8')
    await writeFile(path, text.replace('message: "{{ steps.compose.output }}"', 'message: "{{ $.input.secret }}"'))
    const result = await qflow(['flow', 'verify', 's.yaml'], { cwd: tmp() })
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^qflow: s\.yaml: invalid signature \(hash-mismatch\): flow hash \S+ differs from the signed hash \S+: the flow changed after it was signed\n$/)
    const json = await qflow(['--json', 'flow', 'verify', 's.yaml'], { cwd: tmp() })
    expect(json.code).toBe(1)
    expect(JSON.parse(json.stdout)).toMatchObject({ file: 's.yaml', valid: false, reason: 'hash-mismatch' })
  })

  it('rejects a forged signature value with reason bad-signature', async () => {
    await newKey()
    await writeFiles(tmp(), { 'g.json': GREETING_JSON })
    await qflow(['flow', 'sign', 'g.json', '--key', 'me.pem', '--out', 's.json'], { cwd: tmp() })
    const path = join(tmp(), 's.json')
    const signed = JSON.parse(await readFile(path, 'utf8')) as { signature: SignatureBlock }
    // sign the same flow with another key and keep the first signer's name: a forgery
    const { privateKey } = generateKeyPairSync('ed25519')
    await writeFile(join(tmp(), 'other.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)
    const other = await qflow(['flow', 'sign', 'g.json', '--key', 'other.pem'], { cwd: tmp() })
    const forged = { ...signed, signature: { ...signed.signature, value: (JSON.parse(other.stdout) as { signature: SignatureBlock }).signature.value } }
    await writeFile(path, JSON.stringify(forged, null, 2))
    const result = await qflow(['--json', 'flow', 'verify', 's.json'], { cwd: tmp() })
    expect(result.code).toBe(1)
    expect(JSON.parse(result.stdout)).toMatchObject({ valid: false, reason: 'bad-signature', signer: signed.signature.signer })
  })

  it('rejects an unsigned flow with reason missing', async () => {
    await writeFiles(tmp(), { 'g.yaml': GREETING_YAML })
    const result = await qflow(['flow', 'verify', 'g.yaml'], { cwd: tmp() })
    expect(result.code).toBe(1)
    expect(result.stderr).toBe('qflow: g.yaml: invalid signature (missing): Flow is not signed\n')
  })

  it('rejects a signer that is not among the accepted --signer ids with reason unknown-signer', async () => {
    await newKey()
    await writeFiles(tmp(), { 'g.yaml': GREETING_YAML })
    await qflow(['flow', 'sign', 'g.yaml', '--key', 'me.pem', '--out', 's.yaml'], { cwd: tmp() })
    const stranger = 'did:key:z6MkmADnc8xa23rBcZ9kcJ5xa6J1S5Do3kqqWqgGJ1bvQPzi'
    const result = await qflow(['flow', 'verify', 's.yaml', '--signer', stranger], { cwd: tmp() })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('invalid signature (unknown-signer): signer did:key:')
    expect(result.stderr).toContain('is not one of the accepted signers (--signer)')
  })

  it('re-signing replaces the signature in place (YAML text otherwise unchanged)', async () => {
    await newKey('first.pem')
    const second = await newKey('second.pem')
    await writeFiles(tmp(), { 'g.yaml': GREETING_YAML })
    await qflow(['flow', 'sign', 'g.yaml', '--key', 'first.pem', '--out', 'once.yaml'], { cwd: tmp() })
    const resigned = await qflow(['flow', 'sign', 'once.yaml', '--key', 'second.pem', '--out', 'twice.yaml'], { cwd: tmp() })
    expect(resigned.code).toBe(0)
    const text = await readFile(join(tmp(), 'twice.yaml'), 'utf8')
    expect(text.startsWith(GREETING_YAML)).toBe(true)
    expect(text.match(/^signature:/gm)).toHaveLength(1)
    expect((parseFlow(text) as { signature: SignatureBlock }).signature.signer).toBe(second)
    const verified = await qflow(['flow', 'verify', 'twice.yaml', '--signer', second], { cwd: tmp() })
    expect(verified.code).toBe(0)
  })

  it('prints signer, hash and the signed flow under --json', async () => {
    const did = await newKey()
    await writeFiles(tmp(), { 'g.yaml': GREETING_YAML })
    const toStdout = await qflow(['--json', 'flow', 'sign', 'g.yaml', '--key', 'me.pem'], { cwd: tmp() })
    expect(toStdout.code).toBe(0)
    const value = JSON.parse(toStdout.stdout) as { signer: string; hash: string; flow: { signature: SignatureBlock } }
    expect(value.signer).toBe(did)
    expect(value.flow.signature.hash).toBe(value.hash)
    const toFile = await qflow(['--json', 'flow', 'sign', 'g.yaml', '--key', 'me.pem', '--out', 'o.yaml'], { cwd: tmp() })
    expect(JSON.parse(toFile.stdout)).toEqual({ file: 'g.yaml', signer: did, hash: value.hash, signerIsOwner: false, out: 'o.yaml' })
  })

  it('signs a file in place when --out names the input', async () => {
    const did = await newKey()
    await writeFiles(tmp(), { 'g.yaml': GREETING_YAML })
    const result = await qflow(['flow', 'sign', 'g.yaml', '--key', 'me.pem', '--out', 'g.yaml'], { cwd: tmp() })
    expect(result.code).toBe(0)
    const verified = await qflow(['flow', 'verify', 'g.yaml', '--signer', did], { cwd: tmp() })
    expect(verified.code).toBe(0)
  })

  it('exits 1 when the output cannot be written', async () => {
    await newKey()
    await writeFiles(tmp(), { 'g.yaml': GREETING_YAML })
    const result = await qflow(['flow', 'sign', 'g.yaml', '--key', 'me.pem', '--out', 'no/such/dir/o.yaml'], { cwd: tmp() })
    expect(result).toMatchObject({ code: 1, stdout: '', stderr: 'qflow: Cannot write no/such/dir/o.yaml: no such directory\n' })
  })

  it('exits 1 for a bad key file or an invalid flow, writing nothing', async () => {
    await writeFiles(tmp(), { 'g.yaml': GREETING_YAML, 'broken.yaml': BROKEN_YAML, 'junk.pem': 'junk' })
    const badKey = await qflow(['flow', 'sign', 'g.yaml', '--key', 'junk.pem', '--out', 'o.yaml'], { cwd: tmp() })
    expect(badKey).toMatchObject({ code: 1, stderr: 'qflow: junk.pem does not hold a PEM private key\n' })
    const noKey = await qflow(['flow', 'sign', 'g.yaml', '--key', 'absent.pem', '--out', 'o.yaml'], { cwd: tmp() })
    expect(noKey).toMatchObject({ code: 1, stderr: 'qflow: Cannot read key file absent.pem: no such file\n' })
    await newKey()
    const invalid = await qflow(['flow', 'sign', 'broken.yaml', '--key', 'me.pem', '--out', 'o.yaml'], { cwd: tmp() })
    expect(invalid.code).toBe(1)
    expect(invalid.stderr).toContain('broken.yaml is not a valid flow')
    await expect(readFile(join(tmp(), 'o.yaml'))).rejects.toMatchObject({ code: 'ENOENT' })
  })
})
