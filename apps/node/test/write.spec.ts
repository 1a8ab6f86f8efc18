import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeFailureReason, writeFileAtomic } from '../src/write.js'
import { useTempDir } from './fixtures/cli.js'

describe('writeFileAtomic', () => {
  const tmp = useTempDir()

  it('writes a new file, with the mode asked for, and leaves no temporary file', async () => {
    const path = join(tmp(), 'key.pem')
    await writeFileAtomic(path, 'secret', { mode: 0o600, overwrite: false })
    expect(await readFile(path, 'utf8')).toBe('secret')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(await readdir(tmp())).toEqual(['key.pem'])
  })

  it('replaces an existing file by default', async () => {
    const path = join(tmp(), 'flow.yaml')
    await writeFile(path, 'old')
    await writeFileAtomic(path, 'new')
    expect(await readFile(path, 'utf8')).toBe('new')
    expect(await readdir(tmp())).toEqual(['flow.yaml'])
  })

  it('keeps an existing file without overwrite, failing with EEXIST and cleaning up', async () => {
    const path = join(tmp(), 'key.pem')
    await writeFile(path, 'precious')
    await expect(writeFileAtomic(path, 'other', { overwrite: false })).rejects.toMatchObject({ code: 'EEXIST' })
    expect(await readFile(path, 'utf8')).toBe('precious')
    expect(await readdir(tmp())).toEqual(['key.pem'])
  })

  it('fails with ENOENT for a missing directory', async () => {
    await expect(writeFileAtomic(join(tmp(), 'no', 'such.yaml'), 'x')).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('cleans up the temporary file when the rename fails', async () => {
    // renaming a file over a non-empty directory fails
    const { mkdir } = await import('node:fs/promises')
    await mkdir(join(tmp(), 'taken', 'inside'), { recursive: true })
    await expect(writeFileAtomic(join(tmp(), 'taken'), 'x')).rejects.toHaveProperty('code')
    expect(await readdir(tmp())).toEqual(['taken'])
  })
})

describe('writeFailureReason', () => {
  it('names the common failures', () => {
    expect(writeFailureReason(Object.assign(new Error('x'), { code: 'EEXIST' }))).toBe('file exists')
    expect(writeFailureReason(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe('no such directory')
    expect(writeFailureReason(Object.assign(new Error('x'), { code: 'EACCES' }))).toBe('permission denied')
    expect(writeFailureReason(new Error('something else'))).toBe('something else')
  })
})
