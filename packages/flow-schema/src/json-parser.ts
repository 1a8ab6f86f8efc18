import { FlowParseError } from './errors.js'

/** Limits of {@link parseStrictJson}. */
export interface StrictJsonLimits {
  /** Deepest nesting accepted. */
  maxDepth: number
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?/y

interface Frame {
  /** The container being filled. */
  container: Record<string, unknown> | unknown[]
  /** Pending key of an object member (undefined for arrays or before a key). */
  key: string | undefined
  /** Offset of the pending key, for error positions. */
  keyAt: number
  /** Whether the container is an array. */
  isArray: boolean
}

function position(text: string, offset: number): { line: number; column: number } {
  let line = 1
  let lineStart = 0
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++
    lineStart = i + 1
  }
  return { line, column: offset - lineStart + 1 }
}

function fail(text: string, offset: number, message: string, code = 'syntax'): never {
  const { line, column } = position(text, Math.min(offset, text.length))
  throw new FlowParseError(message, { line, column, format: 'json', code })
}

function describe(text: string, offset: number): string {
  if (offset >= text.length) return 'unexpected end of input'
  return `unexpected ${JSON.stringify(text[offset])}`
}

function setMember(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true })
  } else {
    target[key] = value
  }
}

/**
 * Parses JSON (RFC 8259) without recursion, rejecting duplicate object keys and nesting deeper
 * than `maxDepth`, with the line and column of every error.
 *
 * @throws {@link FlowParseError}
 */
export function parseStrictJson(text: string, limits: StrictJsonLimits): unknown {
  const n = text.length
  let i = 0
  const stack: Frame[] = []
  let root: unknown
  let haveRoot = false

  const skipWs = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i)
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++
      else break
    }
  }

  const readString = (): string => {
    // text[i] is the opening quote
    const start = i
    let j = i + 1
    let escaped = false
    for (;;) {
      if (j >= n) fail(text, start, 'unterminated string')
      const c = text.charCodeAt(j)
      if (c === 0x22) break
      if (c === 0x5c) {
        escaped = true
        j += 2
        continue
      }
      if (c < 0x20) fail(text, j, 'control character in string')
      j++
    }
    i = j + 1
    if (!escaped) return text.slice(start + 1, j)
    try {
      return JSON.parse(text.slice(start, j + 1)) as string
    } catch {
      // find the bad escape for a precise column
      for (let k = start + 1; k < j; k++) {
        if (text.charCodeAt(k) === 0x5c) {
          const e = text[k + 1]
          if (e === 'u') {
            if (!/^[0-9a-fA-F]{4}$/.test(text.slice(k + 2, k + 6))) fail(text, k, 'bad \\u escape in string')
            k += 5
          } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
            k++
          } else {
            fail(text, k, 'bad escape in string')
          }
        }
      }
      fail(text, start, 'invalid string')
    }
  }

  const attach = (value: unknown): void => {
    const top = stack[stack.length - 1]
    if (top === undefined) {
      root = value
      haveRoot = true
      return
    }
    if (top.isArray) {
      ;(top.container as unknown[]).push(value)
    } else {
      const key = top.key as string
      const obj = top.container as Record<string, unknown>
      if (Object.hasOwn(obj, key)) fail(text, top.keyAt, `duplicate key ${JSON.stringify(key)}`, 'duplicate-key')
      setMember(obj, key, value)
      top.key = undefined
    }
  }

  // expecting: 'value' | 'key-or-close' | 'comma-or-close' | 'key' (after a comma in an object)
  let expect: 'value' | 'first' | 'after' = 'value'
  for (;;) {
    skipWs()
    if (expect === 'value') {
      if (i >= n) fail(text, i, 'unexpected end of input')
      const c = text.charCodeAt(i)
      if (c === 0x7b || c === 0x5b) {
        if (stack.length >= limits.maxDepth) fail(text, i, `nesting deeper than ${limits.maxDepth}`, 'too-deep')
        const isArray = c === 0x5b
        const container: Record<string, unknown> | unknown[] = isArray ? [] : {}
        attach(container)
        stack.push({ container, key: undefined, keyAt: 0, isArray })
        i++
        expect = 'first'
        continue
      }
      let value: unknown
      if (c === 0x22) value = readString()
      else if (text.startsWith('true', i)) {
        value = true
        i += 4
      } else if (text.startsWith('false', i)) {
        value = false
        i += 5
      } else if (text.startsWith('null', i)) {
        value = null
        i += 4
      } else {
        NUMBER.lastIndex = i
        const m = NUMBER.exec(text)
        if (m === null) fail(text, i, describe(text, i))
        value = Number(m[0])
        i += m[0].length
      }
      attach(value)
      expect = 'after'
      continue
    }
    const top = stack[stack.length - 1]
    if (top === undefined) {
      if (i < n) fail(text, i, `${describe(text, i)} after the document`)
      if (!haveRoot) fail(text, i, 'empty document')
      return root
    }
    if (expect === 'first') {
      const close = top.isArray ? 0x5d : 0x7d
      if (text.charCodeAt(i) === close) {
        i++
        stack.pop()
        expect = 'after'
        continue
      }
      if (top.isArray) {
        expect = 'value'
        continue
      }
      readKey()
      continue
    }
    // expect === 'after': a comma or the container's close
    const c = text.charCodeAt(i)
    if (c === 0x2c) {
      i++
      if (top.isArray) expect = 'value'
      else {
        skipWs()
        readKey()
      }
      continue
    }
    if (c === (top.isArray ? 0x5d : 0x7d)) {
      i++
      stack.pop()
      expect = 'after'
      continue
    }
    fail(text, i, `${describe(text, i)}: expected "," or "${top.isArray ? ']' : '}'}"`)
  }

  function readKey(): void {
    const top = stack[stack.length - 1] as Frame
    if (text.charCodeAt(i) !== 0x22) fail(text, i, `${describe(text, i)}: expected a key`)
    top.keyAt = i
    top.key = readString()
    skipWs()
    if (text.charCodeAt(i) !== 0x3a) fail(text, i, `${describe(text, i)}: expected ":"`)
    i++
    expect = 'value'
  }
}
