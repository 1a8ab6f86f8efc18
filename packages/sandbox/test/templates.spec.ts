import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Sandbox } from '../src/index.js'
import { startSandbox, text } from './fixtures/templates.js'

describe('example templates', () => {
  let box: Sandbox
  beforeAll(async () => {
    box = (await startSandbox(['echo', 'json-transform', 'validate', 'sha256', 'csv'])).box
  })
  afterAll(async () => {
    await box.stop()
  })

  it('echo returns its input', async () => {
    const { output, metrics } = await box.call('echo@1.0.0', 'echo', 'hello')
    expect(text(output)).toBe('hello')
    expect(metrics.outcome).toBe('ok')
    expect(metrics.inputBytes).toBe(5)
    expect(metrics.outputBytes).toBe(5)
  })

  it('json-transform picks and renames fields', async () => {
    const { output } = await box.run('json-transform@1.0.0', 'transform', {
      data: { id: 7, name: 'Ada', secret: 'x', tags: ['a', 'b'], nested: { ok: true } },
      pick: ['id', 'name', 'tags', 'nested', 'missing'],
      rename: { name: 'fullName' }
    })
    expect(output).toEqual({ id: 7, fullName: 'Ada', tags: ['a', 'b'], nested: { ok: true } })
  })

  it('json-transform keeps every field without pick', async () => {
    const { output } = await box.run('json-transform@1.0.0', 'transform', { data: { a: 1, b: 'two' }, rename: { b: 'c' } })
    expect(output).toEqual({ a: 1, c: 'two' })
  })

  it('json-transform refuses input its schema refuses, before running', async () => {
    const before = box.metrics().calls
    await expect(box.run('json-transform@1.0.0', 'transform', { pick: [] })).rejects.toMatchObject({ name: 'SandboxSchemaError', side: 'input' })
    expect(box.metrics().calls).toBe(before)
  })

  it('validate reports every broken rule', async () => {
    const { output } = await box.run('validate@1.0.0', 'validate', {
      value: { age: 200, name: '', email: 3 },
      rules: [
        { field: 'age', type: 'number', min: 0, max: 150 },
        { field: 'name', type: 'string', minLength: 1 },
        { field: 'email', type: 'string' },
        { field: 'id', required: true }
      ]
    })
    expect(output).toEqual({
      valid: false,
      errors: [
        { field: 'age', message: 'must be <= 150' },
        { field: 'name', message: 'must have at least 1 characters' },
        { field: 'email', message: 'must be a string' },
        { field: 'id', message: 'is required' }
      ]
    })
  })

  it('validate accepts a valid value', async () => {
    const { output } = await box.run('validate@1.0.0', 'validate', {
      value: { age: 30, name: 'Ada' },
      rules: [
        { field: 'age', type: 'number', min: 0, max: 150, required: true },
        { field: 'name', type: 'string', minLength: 1, maxLength: 10 }
      ]
    })
    expect(output).toEqual({ valid: true, errors: [] })
  })

  it('sha256 matches node:crypto on inputs around the block boundaries', async () => {
    for (const length of [0, 1, 3, 55, 56, 63, 64, 65, 119, 120, 1000, 100_000]) {
      const input = new Uint8Array(length).map((_, i) => (i * 31 + length) & 0xff)
      const { output } = await box.call('sha256@1.0.0', 'sha256', input)
      expect(JSON.parse(text(output))).toBe(createHash('sha256').update(input).digest('hex'))
    }
  })

  it('csv parses quoted fields, CRLF rows and embedded line breaks', async () => {
    const csv = 'id,name,note\r\n1,Ada,"likes ""math"", logic"\r\n2,Alan,"two\nlines"\n3,,plain'
    const { output } = await box.run('csv@1.0.0', 'parse', csv)
    expect(output).toEqual([
      { id: '1', name: 'Ada', note: 'likes "math", logic' },
      { id: '2', name: 'Alan', note: 'two\nlines' },
      { id: '3', name: '', note: 'plain' }
    ])
  })

  it('csv reports a malformed row as a guest error, and the instance keeps serving', async () => {
    await expect(box.call('csv@1.0.0', 'parse', 'a,b\n1,2,3\n')).rejects.toMatchObject({ name: 'SandboxTrapError', kind: 'guest-error' })
    const { output } = await box.run('csv@1.0.0', 'parse', 'a\nx')
    expect(output).toEqual([{ a: 'x' }])
  })

  it('non-ASCII text comes out as valid UTF-8 (json-transform, validate, csv)', async () => {
    const data = { name: 'Zoë Łukasiewicz', city: 'Kraków', motto: '✓ 数学 🧮' }
    expect((await box.run('json-transform@1.0.0', 'transform', { data, rename: { name: 'naïve' } })).output).toEqual({ naïve: data.name, city: 'Kraków', motto: data.motto })
    expect((await box.run('validate@1.0.0', 'validate', { value: {}, rules: [{ field: 'prénom', required: true }] })).output).toMatchObject({
      valid: false,
      errors: [{ field: 'prénom' }]
    })
    expect((await box.run('csv@1.0.0', 'parse', 'nom,ville\nZoë,Kraków 🧮\n')).output).toEqual([{ nom: 'Zoë', ville: 'Kraków 🧮' }])
  })
})
