import { type Alias, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLError } from 'yaml'
import { FlowParseError } from './errors.js'

/** Limits of {@link parseYamlDocument}. */
export interface YamlLimits {
  /** Deepest nesting accepted. */
  maxDepth: number
  /** Most alias nodes. */
  maxAliases: number
  /** Most nodes alias expansion may add. */
  maxAliasExpansion: number
}

interface Task {
  node: unknown
  depth: number
  /** Inside how many alias expansions the node is. */
  aliased: boolean
  assign: (value: unknown) => void
}

function setMember(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true })
  } else {
    target[key] = value
  }
}

/**
 * Parses YAML 1.2 (core schema) with the full `yaml` parser and turns the document into plain JSON
 * values without recursion, rejecting what JSON cannot hold (non-finite numbers, non-scalar or null
 * keys, keys that collide once turned into strings), nesting past `maxDepth`, and alias use past the
 * limits (so a "billion laughs" document fails before it expands).
 *
 * @throws {@link FlowParseError} with the line and column of the problem.
 */
export function parseYamlDocument(text: string, limits: YamlLimits): unknown {
  const lineCounter = new LineCounter()
  let doc: ReturnType<typeof parseDocument>
  try {
    doc = parseDocument(text, {
      version: '1.2',
      schema: 'core',
      uniqueKeys: true,
      merge: false,
      prettyErrors: false,
      strict: true,
      lineCounter
    })
  } catch (err) {
    // the parser recurses on nesting; a stack overflow means the document nests too deeply
    if (err instanceof RangeError) {
      throw new FlowParseError('YAML nests too deeply', { format: 'yaml', code: 'too-deep', cause: err })
    }
    throw err
  }
  const failure = doc.errors[0] ?? doc.warnings[0]
  if (failure !== undefined) throw yamlError(failure, lineCounter)

  const fail = (node: unknown, message: string, code: string): never => {
    const range = (node as { range?: [number, number, number] } | null)?.range
    const { line, col } = lineCounter.linePos(range?.[0] ?? 0)
    throw new FlowParseError(message, { line, column: col, format: 'yaml', code })
  }

  let aliases = 0
  let expansion = 0
  let result: unknown = null
  const stack: Task[] = [{ node: doc.contents, depth: 0, aliased: false, assign: (v) => (result = v) }]
  while (stack.length > 0) {
    const task = stack.pop() as Task
    let node = task.node
    let aliased = task.aliased
    if (isAlias(node)) {
      aliases++
      if (aliases > limits.maxAliases) fail(node, `more than ${limits.maxAliases} aliases`, 'too-many-aliases')
      const target = (node as Alias).resolve(doc)
      if (target === undefined) fail(node, `unresolved alias *${(node as Alias).source}`, 'syntax')
      node = target
      aliased = true
    }
    if (aliased && ++expansion > limits.maxAliasExpansion) {
      fail(task.node, `alias expansion past ${limits.maxAliasExpansion} nodes`, 'too-many-aliases')
    }
    if (node === null || node === undefined) {
      task.assign(null)
      continue
    }
    if (isScalar(node)) {
      const value = node.value
      if (typeof value === 'number' && !Number.isFinite(value)) fail(node, 'number is not finite (JSON has no NaN or Infinity)', 'not-json')
      if (value !== null && typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        fail(node, 'value has no JSON form', 'not-json')
      }
      task.assign(value)
      continue
    }
    if (task.depth >= limits.maxDepth) fail(node, `nesting deeper than ${limits.maxDepth}`, 'too-deep')
    if (isMap(node)) {
      const obj: Record<string, unknown> = {}
      task.assign(obj)
      // push in reverse so members are materialized in document order
      const members: Task[] = []
      for (const pair of node.items) {
        if (!isPair(pair)) fail(node, 'malformed mapping', 'syntax')
        let keyNode: unknown = pair.key
        if (isAlias(keyNode)) fail(keyNode, 'alias as a mapping key', 'not-json')
        if (!isScalar(keyNode)) keyNode === null ? fail(pair.value ?? node, 'empty mapping key', 'not-json') : fail(keyNode, 'mapping key is not a scalar', 'not-json')
        const raw = (keyNode as { value: unknown }).value
        if (raw === null || (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean')) {
          fail(keyNode, 'mapping key must be a string', 'not-json')
        }
        if (typeof raw === 'number' && !Number.isFinite(raw)) fail(keyNode, 'mapping key must be a string', 'not-json')
        const key = String(raw)
        if (Object.hasOwn(obj, key)) fail(keyNode, `duplicate key ${JSON.stringify(key)}`, 'duplicate-key')
        setMember(obj, key, undefined)
        keyNode = null
        members.push({ node: pair.value, depth: task.depth + 1, aliased, assign: (v) => setMember(obj, key, v) })
      }
      for (let k = members.length - 1; k >= 0; k--) stack.push(members[k] as Task)
      continue
    }
    if (isSeq(node)) {
      const arr: unknown[] = new Array(node.items.length).fill(null)
      task.assign(arr)
      for (let k = node.items.length - 1; k >= 0; k--) {
        const index = k
        stack.push({ node: node.items[k], depth: task.depth + 1, aliased, assign: (v) => (arr[index] = v) })
      }
      continue
    }
    fail(node as Node, 'unsupported YAML node', 'syntax')
  }
  return result
}

function yamlError(err: YAMLError, lineCounter: LineCounter): FlowParseError {
  const pos = err.linePos?.[0] ?? lineCounter.linePos(err.pos[0])
  const code = /call stack/i.test(err.message)
    ? 'too-deep'
    : err.code === 'DUPLICATE_KEY'
      ? 'duplicate-key'
      : err.code === 'RESOURCE_EXHAUSTION'
        ? 'too-many-aliases'
        : 'syntax'
  const message = err.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '')
  return new FlowParseError(`YAML: ${message}`, { line: pos.line, column: pos.col, format: 'yaml', code, cause: err })
}
