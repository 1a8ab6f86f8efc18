import { describe, expect, it } from 'vitest'
import { compileExpression, findTemplates, type FlowExpressionError, MAX_EXPRESSION_LENGTH, templateExpression } from '../src/index.js'

describe('expressions', () => {
  it('compiles JSONata once and evaluates it', async () => {
    const e = compileExpression('$sum(items.(price * qty))')
    expect(compileExpression('$sum(items.(price * qty))')).toBe(e)
    expect(await e.evaluate({ items: [{ price: 2, qty: 3 }, { price: 1, qty: 4 }] })).toBe(10)
    expect(await compileExpression('greeting & ", " & name').evaluate({ greeting: 'Hi' }, { name: 'x' })).toBe('Hi, ')
  })

  it('throws FlowExpressionError with code and position, also from the cache', () => {
    for (let i = 0; i < 2; i++) {
      try {
        compileExpression('a + ')
        expect.unreachable()
      } catch (err) {
        expect((err as Error).name).toBe('FlowExpressionError')
        expect((err as FlowExpressionError).code).toBe('S0207')
        expect((err as FlowExpressionError).position).toBe(4)
        expect((err as FlowExpressionError).expression).toBe('a + ')
      }
    }
    expect(() => compileExpression('x'.repeat(MAX_EXPRESSION_LENGTH + 1))).toThrow(expect.objectContaining({ code: 'too-long' }))
    expect(() => compileExpression('('.repeat(20_000))).toThrow(expect.objectContaining({ name: 'FlowExpressionError' }))
  })

  it('recognises whole-string templates only', () => {
    expect(templateExpression('{{ a.b }}')).toBe(' a.b ')
    expect(templateExpression('  {{x}}\n')).toBe('x')
    expect(templateExpression('{{ {"a": {"b": 1}} }}')).toBe(' {"a": {"b": 1}} ')
    expect(templateExpression('hello {{ name }}')).toBeUndefined()
    expect(templateExpression('{{ a }} and')).toBeUndefined()
    expect(templateExpression(42)).toBeUndefined()
  })

  it('finds templates at any depth with JSON pointers', () => {
    expect(findTemplates({ a: '{{ x }}', b: [1, { 'c/d': '{{ y }}', e: 'plain' }], 'f~': '{{z}}' })).toEqual([
      { pointer: '/a', expression: ' x ' },
      { pointer: '/b/1/c~1d', expression: ' y ' },
      { pointer: '/f~0', expression: 'z' }
    ])
    let deep: unknown = '{{ deep }}'
    for (let i = 0; i < 50_000; i++) deep = [deep]
    expect(findTemplates(deep)[0]?.pointer.split('/')).toHaveLength(50_001)
  })
})
