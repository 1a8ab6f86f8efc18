import { describe, expect, it } from 'vitest'
import { pointerLocator, pointerSegments } from '../src/locate.js'

const YAML = `id: demo
steps:
  - id: first
    params:
      url: https://example.com
      "a/b~c": odd key
  - &second
    id: second
triggers:
  - *second
`

const JSON_TEXT = `{
  "id": "demo",
  "steps": [
    {"id": "first", "params": {"url": "https://example.com"}},
\t{"id": "second"}
  ]
}`

describe('pointerSegments', () => {
  it('splits and unescapes RFC 6901 pointers', () => {
    expect(pointerSegments('')).toEqual([])
    expect(pointerSegments('/steps/0/id')).toEqual(['steps', '0', 'id'])
    expect(pointerSegments('/a~1b~0c')).toEqual(['a/b~c'])
    expect(pointerSegments('#/steps/1')).toEqual(['steps', '1'])
  })
})

describe('pointerLocator', () => {
  it('finds members by their key and array items by their start, in YAML', () => {
    const locate = pointerLocator(YAML)
    expect(locate('')).toEqual({ line: 1, column: 1 })
    expect(locate('/id')).toEqual({ line: 1, column: 1 })
    expect(locate('/steps')).toEqual({ line: 2, column: 1 })
    expect(locate('/steps/0')).toEqual({ line: 3, column: 5 })
    expect(locate('/steps/0/params/url')).toEqual({ line: 5, column: 7 })
    expect(locate('/steps/0/params/a~1b~0c')).toEqual({ line: 6, column: 7 })
    expect(locate('/steps/1/id')).toEqual({ line: 8, column: 5 })
  })

  it('falls back to the deepest part of the pointer that exists', () => {
    const locate = pointerLocator(YAML)
    expect(locate('/steps/0/params/missing')).toEqual({ line: 4, column: 5 })
    expect(locate('/steps/0/action')).toEqual({ line: 3, column: 5 })
    expect(locate('/steps/7/id')).toEqual({ line: 2, column: 1 })
    expect(locate('/steps/x')).toEqual({ line: 2, column: 1 })
    expect(locate('/id/deeper')).toEqual({ line: 1, column: 1 })
  })

  it('follows aliases to their anchors', () => {
    const locate = pointerLocator(YAML)
    expect(locate('/triggers/0/id')).toEqual({ line: 8, column: 5 })
  })

  it('reads JSON (tabs included) as YAML', () => {
    const locate = pointerLocator(JSON_TEXT)
    expect(locate('/id')).toEqual({ line: 2, column: 3 })
    expect(locate('/steps/0/params/url')).toEqual({ line: 4, column: 32 })
    expect(locate('/steps/1')).toEqual({ line: 5, column: 2 })
    expect(locate('/steps/1/id')).toEqual({ line: 5, column: 3 })
  })

  it('places everything at 1:1 in text that does not parse as a mapping', () => {
    const locate = pointerLocator('')
    expect(locate('/steps/0')).toEqual({ line: 1, column: 1 })
  })
})
