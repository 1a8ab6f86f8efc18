/**
 * A fast reader for the plain block-style YAML subset that flow files are written in: block
 * mappings and sequences, plain, single- and double-quoted scalars on one line, one-line flow
 * collections, and literal/folded block scalars.
 *
 * It never reports errors: whenever it meets anything outside that subset (anchors, aliases, tags,
 * multi-line plain or quoted scalars, complex keys, non-string keys, duplicate keys, directives,
 * several documents, tabs, odd characters, any syntax error), it gives up and returns
 * {@link BAIL}, and the caller parses the text with the full `yaml` parser, which then produces the
 * value or the error with its line and column. So for every text it accepts, it must produce exactly
 * what `yaml` (YAML 1.2, core schema) produces; test/yaml-fast.spec.ts checks that differentially.
 */

/** Returned when the text is outside the fast subset. */
export const BAIL: unique symbol = Symbol('bail')

/** Result of {@link parseYamlFast}. */
export type FastResult = unknown | typeof BAIL

class Bail extends Error {}
function bail(): never {
  throw new Bail()
}

/** Characters that make the fast path give up anywhere in the text (tabs included). */
const ODD_CHARS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\ufeff\ufffe\uffff\u2028\u2029]/
const SURROGATE = /[\ud800-\udfff]/
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
/** Plain keys that need no further checks (the common case): never null, booleans or numbers except these words. */
const SIMPLE_KEY = /^[A-Za-z_$][A-Za-z0-9_$./-]*$/
const NON_STRING_WORDS = new Set(['null', 'Null', 'NULL', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE'])

/** Deepest nesting the fast path follows (deeper documents go to the full parser). */
const MAX_FAST_DEPTH = 64

const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$/
/** Plain scalars of the core schema that are not strings and that the fast path does not resolve. */
const OTHER_NON_STRING =
  /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|[-+]?[0-9]+|0x[0-9a-fA-F]+)$/

interface Line {
  /** Leading spaces. */
  indent: number
  /** Text after the indentation (comment lines and blank lines are not kept). */
  content: string
  /** Index into the raw lines. */
  raw: number
}

function resolvePlain(text: string): unknown {
  switch (text) {
    case '':
    case '~':
    case 'null':
    case 'Null':
    case 'NULL':
      return null
    case 'true':
    case 'True':
    case 'TRUE':
      return true
    case 'false':
    case 'False':
    case 'FALSE':
      return false
  }
  const c = text.charCodeAt(0)
  // digits, '-', '+', '.'
  if ((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e) {
    if (JSON_NUMBER.test(text)) return Number(text)
    if (OTHER_NON_STRING.test(text)) bail()
  }
  return text
}

/** Index of a ` #` comment start in a plain-scalar context, or -1. */
function commentStart(text: string, from: number): number {
  for (let i = text.indexOf('#', from); i !== -1; i = text.indexOf('#', i + 1)) {
    if (i === 0 || text.charCodeAt(i - 1) === 0x20) return i
  }
  return -1
}

function checkPlainStart(text: string): void {
  if (text === '') return
  const c = text[0] as string
  if (',[]{}#&*!|>\'"%@`'.includes(c)) bail()
  if ((c === '-' || c === '?' || c === ':') && (text.length === 1 || text[1] === ' ')) bail()
}

/** A plain scalar in block context: the whole of `text` (already cut at a comment and trimmed). */
function blockPlain(text: string): unknown {
  checkPlainStart(text)
  if (text.includes(': ') || text.endsWith(':')) bail()
  return resolvePlain(text)
}

const DQ_SIMPLE_ESCAPES = '"\\/bfnrtu'

/** Reads a double-quoted scalar starting at `text[start]` on one line; returns value and end index. */
function readDoubleQuoted(text: string, start: number): [string, number] {
  let i = start + 1
  let escaped = false
  for (;;) {
    if (i >= text.length) bail() // multi-line or unterminated: let the full parser decide
    const c = text.charCodeAt(i)
    if (c === 0x22) break
    if (c === 0x5c) {
      const e = text[i + 1]
      if (e === undefined || !DQ_SIMPLE_ESCAPES.includes(e)) bail()
      escaped = true
      i += 2
      continue
    }
    i++
  }
  const raw = text.slice(start + 1, i)
  if (!escaped) return [raw, i + 1]
  try {
    return [JSON.parse(`"${raw}"`) as string, i + 1]
  } catch {
    return bail()
  }
}

/** Reads a single-quoted scalar starting at `text[start]` on one line. */
function readSingleQuoted(text: string, start: number): [string, number] {
  let i = start + 1
  let out = ''
  for (;;) {
    const q = text.indexOf("'", i)
    if (q === -1) bail()
    out += text.slice(i, q)
    if (text.charCodeAt(q + 1) === 0x27) {
      out += "'"
      i = q + 2
      continue
    }
    return [out, q + 1]
  }
}

/** After a quoted scalar or flow collection: only spaces and a comment may follow. */
function checkRest(text: string, from: number): void {
  let i = from
  while (text.charCodeAt(i) === 0x20) i++
  if (i >= text.length) return
  if (text.charCodeAt(i) === 0x23 && i > from) return
  bail()
}

/** Parses a one-line flow collection starting at `text[start]`; returns value and end index. */
function readFlow(text: string, start: number, depth: number): [unknown, number] {
  if (depth > MAX_FAST_DEPTH) bail()
  const open = text[start]
  const isSeq = open === '['
  const close = isSeq ? ']' : '}'
  let i = start + 1
  const skip = (): void => {
    while (text.charCodeAt(i) === 0x20) i++
  }
  const seq: unknown[] = []
  const map: Record<string, unknown> = {}
  skip()
  if (text[i] === close) return [isSeq ? seq : map, i + 1]
  for (;;) {
    skip()
    if (isSeq) {
      const [value, end] = readFlowItem(text, i, depth)
      seq.push(value)
      i = end
      skip()
      if (text[i] === ':') bail() // implicit single-pair mapping
    } else {
      let key: string
      const c = text[i]
      if (c === '"') [key, i] = readDoubleQuoted(text, i)
      else if (c === "'") [key, i] = readSingleQuoted(text, i)
      else {
        const end = plainFlowEnd(text, i, true)
        const plain = text.slice(i, end).trimEnd()
        checkPlainStart(plain)
        if (plain === '' || typeof resolvePlain(plain) !== 'string') bail()
        key = plain
        i = end
      }
      skip()
      if (text[i] !== ':' || (text[i + 1] !== ' ' && text[i + 1] !== undefined && !',]}'.includes(text[i + 1] as string))) bail()
      i++
      skip()
      if (key === '__proto__' || key === '<<' || Object.hasOwn(map, key)) bail()
      if (text[i] === ',' || text[i] === '}') bail() // `key:` with no value
      const [value, end] = readFlowItem(text, i, depth)
      map[key] = value
      i = end
      skip()
    }
    if (text[i] === ',') {
      i++
      skip()
      if (text[i] === close) bail() // trailing comma
      continue
    }
    if (text[i] === close) return [isSeq ? seq : map, i + 1]
    return bail()
  }
}

/** End of a plain scalar inside a flow collection. */
function plainFlowEnd(text: string, from: number, isKey: boolean): number {
  let i = from
  while (i < text.length) {
    const c = text[i] as string
    if (c === ',' || c === ']' || c === '}' || c === '[' || c === '{') break
    if (c === ':' && (text[i + 1] === ' ' || text[i + 1] === undefined || ',[]{}'.includes(text[i + 1] as string))) {
      if (isKey) break
      bail()
    }
    if (c === '#' && text[i - 1] === ' ') bail()
    i++
  }
  return i
}

function readFlowItem(text: string, start: number, depth: number): [unknown, number] {
  const c = text[start]
  if (c === '[' || c === '{') return readFlow(text, start, depth + 1)
  if (c === '"') return readDoubleQuoted(text, start)
  if (c === "'") return readSingleQuoted(text, start)
  const end = plainFlowEnd(text, start, false)
  const plain = text.slice(start, end).trimEnd()
  if (plain === '') bail()
  checkPlainStart(plain)
  return [resolvePlain(plain), end]
}

/** The reader's state: lines of content (comments and blank lines dropped) and the raw lines. */
class FastYaml {
  private readonly lines: Line[] = []
  private pos = 0

  constructor(private readonly raw: string[]) {
    for (let r = 0; r < raw.length; r++) {
      const text = raw[r] as string
      let indent = 0
      while (text.charCodeAt(indent) === 0x20) indent++
      if (indent === text.length) continue
      const content = text.slice(indent)
      if (content.charCodeAt(0) === 0x23) continue // comment line
      this.lines.push({ indent, content, raw: r })
    }
  }

  parseDocument(): unknown {
    let first = this.lines[0]
    if (first === undefined) bail()
    if (first.indent === 0 && (first.content === '---' || first.content.startsWith('--- #'))) {
      this.pos++
      first = this.lines[this.pos]
      if (first === undefined) bail()
    }
    for (const line of this.lines) {
      if (line.indent === 0) {
        const c = line.content
        if (c.startsWith('%') || c.startsWith('---') || c.startsWith('...')) {
          if (line !== this.lines[0]) bail()
        }
      }
    }
    const value = this.blockNode(first.indent, -1, 0)
    if (this.pos < this.lines.length) bail()
    if (value === null || typeof value !== 'object') bail()
    return value
  }

  private current(): Line | undefined {
    return this.lines[this.pos]
  }

  /** A block node whose first line is the current one, at indentation `indent`. */
  private blockNode(indent: number, parentIndent: number, depth: number): unknown {
    if (depth > MAX_FAST_DEPTH) bail()
    const line = this.current() as Line
    if (line.indent !== indent || indent <= parentIndent) bail()
    if (isSeqEntry(line.content)) return this.sequence(indent, depth)
    if (mappingKeyEnd(line.content) !== -1) return this.mapping(indent, depth)
    return bail()
  }

  private sequence(indent: number, depth: number): unknown[] {
    const out: unknown[] = []
    for (;;) {
      const line = this.current()
      if (line === undefined || line.indent < indent) return out
      if (line.indent > indent) bail()
      if (!isSeqEntry(line.content)) return out
      // text after "- "
      let offset = 1
      while (line.content.charCodeAt(offset) === 0x20) offset++
      const rest = line.content.slice(offset)
      if (rest === '' || rest.charCodeAt(0) === 0x23) {
        if (rest !== '' && offset === 1) bail()
        this.pos++
        out.push(this.nestedOrNull(indent, depth))
        continue
      }
      if (isSeqEntry(rest)) {
        // compact nested sequence: "- - x" continues with entries at the column of the inner dash
        const column = indent + offset
        this.lines[this.pos] = { indent: column, content: rest, raw: line.raw }
        out.push(this.sequence(column, depth + 1))
        continue
      }
      if (mappingKeyEnd(rest) !== -1) {
        // compact mapping: "- key: value" continues with keys at the column of "key"
        const column = indent + offset
        this.lines[this.pos] = { indent: column, content: rest, raw: line.raw }
        out.push(this.mapping(column, depth + 1))
        continue
      }
      out.push(this.inlineValue(line, rest, indent, depth))
    }
  }

  private mapping(indent: number, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    for (;;) {
      const line = this.current()
      if (line === undefined || line.indent < indent) return out
      if (line.indent > indent) bail()
      const content = line.content
      if (isSeqEntry(content)) return out // a compact sequence of the caller ends here, or an error
      const keyEnd = mappingKeyEnd(content)
      if (keyEnd === -1) bail()
      const key = readKey(content, keyEnd)
      if (key === '__proto__' || key === '<<' || Object.hasOwn(out, key)) bail()
      let valueStart = keyEnd + 1
      while (content.charCodeAt(valueStart) === 0x20) valueStart++
      const rest = content.slice(valueStart)
      if (rest === '' || rest.charCodeAt(0) === 0x23) {
        if (rest !== '' && valueStart === keyEnd + 1) bail()
        this.pos++
        const next = this.current()
        if (next !== undefined && next.indent === indent && isSeqEntry(next.content)) {
          out[key] = this.sequence(indent, depth + 1)
        } else {
          out[key] = this.nestedOrNull(indent, depth)
        }
        continue
      }
      if (valueStart === keyEnd + 1 && rest !== '') bail() // "key:value" is no mapping entry
      out[key] = this.inlineValue(line, rest, indent, depth)
    }
  }

  /** The block node on the next lines if they are indented deeper than `indent`, else null. */
  private nestedOrNull(indent: number, depth: number): unknown {
    const next = this.current()
    if (next === undefined || next.indent <= indent) return null
    return this.blockNode(next.indent, indent, depth + 1)
  }

  /** A value written on the line of its key or dash; `rest` is the text after them. */
  private inlineValue(line: Line, rest: string, indent: number, depth: number): unknown {
    const c = rest[0]
    let value: unknown
    if (c === '|' || c === '>') {
      value = this.blockScalar(line, rest, indent)
      return value // blockScalar advanced the position
    }
    if (c === '[' || c === '{') {
      const [v, end] = readFlow(rest, 0, depth + 1)
      checkRest(rest, end)
      value = v
    } else if (c === '"') {
      const [v, end] = readDoubleQuoted(rest, 0)
      checkRest(rest, end)
      value = v
    } else if (c === "'") {
      const [v, end] = readSingleQuoted(rest, 0)
      checkRest(rest, end)
      value = v
    } else {
      const hash = commentStart(rest, 0)
      value = blockPlain((hash === -1 ? rest : rest.slice(0, hash)).trimEnd())
    }
    this.pos++
    // a more indented line after an inline value would continue a multi-line scalar (or be an error)
    const next = this.current()
    if (next !== undefined && next.indent > indent) bail()
    return value
  }

  private blockScalar(line: Line, header: string, parentIndent: number): string {
    const hash = commentStart(header, 1)
    const indicator = (hash === -1 ? header : header.slice(0, hash)).trimEnd()
    if (hash !== -1 && header[hash - 1] !== ' ') bail()
    const folded = indicator[0] === '>'
    const chomp = indicator.slice(1)
    if (chomp !== '' && chomp !== '-' && chomp !== '+') bail()
    // consume raw lines after the header
    const raw = this.raw
    // text split on "\n": a final empty element is the last line's terminator, not a line
    const endsWithNewline = raw[raw.length - 1] === ''
    const lastLine = endsWithNewline ? raw.length - 1 : raw.length
    let r = line.raw + 1
    const body: string[] = []
    let contentIndent = -1
    let leadingBlankMax = 0
    for (; r < lastLine; r++) {
      const text = raw[r] as string
      let sp = 0
      while (text.charCodeAt(sp) === 0x20) sp++
      if (sp === text.length) {
        if (contentIndent === -1) leadingBlankMax = Math.max(leadingBlankMax, sp)
        body.push('')
        continue
      }
      if (contentIndent === -1) {
        if (sp <= parentIndent) break
        contentIndent = sp
        if (leadingBlankMax > contentIndent) bail()
      } else if (sp < contentIndent) {
        break
      }
      body.push(text.slice(contentIndent))
    }
    if (r >= lastLine && !endsWithNewline) bail() // no final line break: leave to the full parser
    if (contentIndent === -1) bail()
    // drop trailing blank lines (they were pushed as '')
    let end = body.length
    while (end > 0 && body[end - 1] === '') end--
    const trailing = body.length - end
    let text: string
    if (folded) {
      text = ''
      let blank = 0
      let started = false
      for (let k = 0; k < end; k++) {
        const l = body[k] as string
        if (l === '') {
          blank++
          continue
        }
        if (l.charCodeAt(0) === 0x20) bail() // more-indented lines have their own folding rules
        if (started) text += blank > 0 ? '\n'.repeat(blank) : ' '
        else if (blank > 0) text += '\n'.repeat(blank)
        text += l
        started = true
        blank = 0
      }
    } else {
      text = body.slice(0, end).join('\n')
    }
    if (end === 0) bail()
    if (chomp === '') text += '\n'
    else if (chomp === '+') text += '\n'.repeat(trailing + 1)
    // move the line cursor past the scalar
    while (this.pos < this.lines.length && (this.lines[this.pos] as Line).raw < r) this.pos++
    return text
  }
}

function isSeqEntry(content: string): boolean {
  return content.charCodeAt(0) === 0x2d && (content.length === 1 || content.charCodeAt(1) === 0x20)
}

/**
 * Index of the `:` that ends a mapping key at the start of `content`, or -1 when the line is not
 * a simple mapping entry.
 */
function mappingKeyEnd(content: string): number {
  const c = content[0]
  if (c === '[' || c === '{') return -1
  if (c === '"' || c === "'") {
    let end: number
    try {
      end = c === '"' ? readDoubleQuoted(content, 0)[1] : readSingleQuoted(content, 0)[1]
    } catch {
      return -1
    }
    let i = end
    while (content.charCodeAt(i) === 0x20) i++
    if (content.charCodeAt(i) !== 0x3a) return -1
    if (i + 1 < content.length && content.charCodeAt(i + 1) !== 0x20) return -1
    return i
  }
  for (let i = content.indexOf(':'); i !== -1; i = content.indexOf(':', i + 1)) {
    if (i + 1 === content.length || content.charCodeAt(i + 1) === 0x20) return i
  }
  return -1
}

function readKey(content: string, keyEnd: number): string {
  const simple = content.slice(0, keyEnd)
  if (SIMPLE_KEY.test(simple) && !NON_STRING_WORDS.has(simple)) return simple
  const c = content[0]
  if (c === '"') return readDoubleQuoted(content, 0)[0]
  if (c === "'") return readSingleQuoted(content, 0)[0]
  const key = content.slice(0, keyEnd).trimEnd()
  if (key === '' || key.includes('#') || key.includes('\t')) bail()
  checkPlainStart(key)
  if (/[[\]{},]/.test(key)) bail()
  if (typeof resolvePlain(key) !== 'string') bail()
  return key
}

/**
 * Parses `text` if it lies within the fast YAML subset; otherwise returns {@link BAIL}.
 * Only documents whose root is a mapping or a sequence are handled.
 */
export function parseYamlFast(text: string): FastResult {
  let source = text
  if (source.includes('\r')) {
    source = source.replaceAll('\r\n', '\n')
    if (source.includes('\r')) return BAIL
  }
  if (ODD_CHARS.test(source)) return BAIL
  if (SURROGATE.test(source) && LONE_SURROGATE.test(source)) return BAIL
  try {
    return new FastYaml(source.split('\n')).parseDocument()
  } catch (err) {
    if (err instanceof Bail) return BAIL
    // anything unexpected is left to the full parser too
    return BAIL
  }
}
