import { execFileSync } from 'node:child_process'
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { didKeyFromPublicKey } from '@qflow/flow-schema'
import { describe, expect, it } from 'vitest'
import { qflow, useTempDir } from './fixtures/cli.js'

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

async function didOfPemFile(path: string): Promise<string> {
  const jwk = createPublicKey(createPrivateKey(await readFile(path, 'utf8'))).export({ format: 'jwk' })
  return didKeyFromPublicKey(new Uint8Array(Buffer.from(String(jwk.x), 'base64url')))
}

describe('qflow key', () => {
  const tmp = useTempDir()

  it('generate writes an ed25519 PKCS#8 PEM with mode 0600 and prints its did:key', async () => {
    const result = await qflow(['key', 'generate', '--out', 'me.pem'], { cwd: tmp() })
    expect(result.code).toBe(0)
    const path = join(tmp(), 'me.pem')
    const pem = await readFile(path, 'utf8')
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/)
    expect(createPrivateKey(pem).asymmetricKeyType).toBe('ed25519')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(result.stdout).toBe(`${await didOfPemFile(path)}\n`)
    expect(result.stdout).toMatch(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+\n$/)
    expect(result.stderr).toBe('wrote me.pem\n')
  })

  it('generate never replaces a file unless --force, and --force resets the mode', async () => {
    const path = join(tmp(), 'me.pem')
    await writeFile(path, 'precious', { mode: 0o644 })
    const refused = await qflow(['key', 'generate', '--out', 'me.pem'], { cwd: tmp() })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toBe('qflow: Cannot write key file me.pem: file exists (use --force to replace it)\n')
    expect(await readFile(path, 'utf8')).toBe('precious')
    const forced = await qflow(['--json', 'key', 'generate', '--out', 'me.pem', '--force'], { cwd: tmp() })
    expect(forced.code).toBe(0)
    expect(JSON.parse(forced.stdout)).toEqual({ out: 'me.pem', did: await didOfPemFile(path) })
    expect((await stat(path)).mode & 0o777).toBe(0o600)
  })

  it('generate exits 1 when the directory does not exist', async () => {
    const result = await qflow(['key', 'generate', '--out', 'no/such/dir/me.pem'], { cwd: tmp() })
    expect(result.code).toBe(1)
    expect(result.stderr).toBe('qflow: Cannot write key file no/such/dir/me.pem: no such directory\n')
  })

  it('did prints the did:key of a key file made by node:crypto', async () => {
    const { privateKey } = generateKeyPairSync('ed25519')
    await writeFile(join(tmp(), 'k.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)
    const result = await qflow(['key', 'did', 'k.pem'], { cwd: tmp() })
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(`${await didOfPemFile(join(tmp(), 'k.pem'))}\n`)
  })

  it.skipIf(!hasOpenssl())('did accepts a key made by openssl genpkey -algorithm ed25519', async () => {
    const path = join(tmp(), 'openssl.pem')
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', path], { stdio: 'ignore' })
    const result = await qflow(['key', 'did', 'openssl.pem'], { cwd: tmp() })
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(`${await didOfPemFile(path)}\n`)
  })

  it('did exits 1 for a missing file, a non-key file and a key of another type', async () => {
    const missing = await qflow(['key', 'did', 'nope.pem'], { cwd: tmp() })
    expect(missing).toMatchObject({ code: 1, stderr: 'qflow: Cannot read key file nope.pem: no such file\n' })
    await writeFile(join(tmp(), 'junk.pem'), 'not a key at all')
    const junk = await qflow(['key', 'did', 'junk.pem'], { cwd: tmp() })
    expect(junk).toMatchObject({ code: 1, stderr: 'qflow: junk.pem does not hold a PEM private key\n' })
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    await writeFile(join(tmp(), 'ec.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)
    const ec = await qflow(['key', 'did', 'ec.pem'], { cwd: tmp() })
    expect(ec).toMatchObject({ code: 1, stderr: 'qflow: ec.pem holds a ec key; flows are signed with ed25519\n' })
  })
})
