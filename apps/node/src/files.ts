import { readdir, readFile, stat } from 'node:fs/promises'
import { extname, join, resolve } from 'node:path'
import { FLOW_FILE_EXTENSIONS, SKIPPED_DIRECTORIES, STDIN_PATH } from './constants.js'
import { FlowFileError } from './errors.js'
import type { CliIo } from './io.js'

/** The serialization a flow file is written in. */
export type FlowFileFormat = 'json' | 'yaml'

/** A flow file's text as read, with the format it is written in. */
export interface FlowSource {
  /** The path as given (or `-` for standard input). */
  path: string
  /** The file's text. */
  text: string
  /** JSON or YAML, from the file name ending, else from the first character of the text. */
  format: FlowFileFormat
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined
}

function describeFsError(path: string, err: unknown): string {
  switch (errorCode(err)) {
    case 'ENOENT':
      return `${path}: no such file or directory`
    case 'EACCES':
    case 'EPERM':
      return `${path}: permission denied`
    case 'EISDIR':
      return `${path}: is a directory, not a file`
    default:
      return `${path}: ${err instanceof Error ? err.message : String(err)}`
  }
}

/** The format a path's ending names, or `undefined` when it names none. */
export function formatFromPath(path: string): FlowFileFormat | undefined {
  const ending = extname(path).toLowerCase()
  if (ending === '.json') return 'json'
  if (ending === '.yaml' || ending === '.yml') return 'yaml'
  return undefined
}

/** Guesses a text's format from its first significant character: `{` or `[` means JSON. */
export function formatFromText(text: string): FlowFileFormat {
  const first = text.replace(/^\uFEFF/, '').trimStart()[0]
  return first === '{' || first === '[' ? 'json' : 'yaml'
}

/**
 * Reads a flow file (or standard input for `-`).
 *
 * @throws {@link FlowFileError} when the file cannot be read.
 */
export async function readFlowSource(path: string, io: CliIo): Promise<FlowSource> {
  let text: string
  try {
    text = path === STDIN_PATH ? await io.readStdin() : await readFile(resolve(io.cwd, path), 'utf8')
  } catch (err) {
    throw new FlowFileError(path, describeFsError(path, err), { cause: err })
  }
  return { path, text, format: formatFromPath(path) ?? formatFromText(text) }
}

async function walk(dir: string, display: string, found: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true })
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue
    const shown = join(display, entry.name)
    const isFlowName = FLOW_FILE_EXTENSIONS.includes(extname(entry.name).toLowerCase())
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRECTORIES.includes(entry.name)) await walk(join(dir, entry.name), shown, found)
    } else if (entry.isFile()) {
      if (isFlowName) found.push(shown)
    } else if (entry.isSymbolicLink() && isFlowName) {
      // a link to a flow file counts; links to directories are not followed (no loops)
      const target = await stat(join(dir, entry.name)).catch(() => undefined)
      if (target?.isFile() === true) found.push(shown)
    }
  }
}

/**
 * Expands command-line targets into flow file paths: a file stays as given (whatever its ending),
 * a directory is walked recursively for `*.json`, `*.yaml` and `*.yml` files (skipping dot
 * entries and `node_modules`; following links to files but not to directories), in name order. Paths keep the form they were given in.
 *
 * @throws {@link FlowFileError} when a target does not exist or a directory holds no flow file.
 */
export async function collectFlowFiles(targets: readonly string[], io: CliIo): Promise<string[]> {
  const files: string[] = []
  for (const target of targets) {
    if (target === STDIN_PATH) {
      files.push(target)
      continue
    }
    const absolute = resolve(io.cwd, target)
    let isDirectory: boolean
    try {
      isDirectory = (await stat(absolute)).isDirectory()
    } catch (err) {
      throw new FlowFileError(target, describeFsError(target, err), { cause: err })
    }
    if (!isDirectory) {
      files.push(target)
      continue
    }
    const found: string[] = []
    try {
      await walk(absolute, target, found)
    } catch (err) {
      throw new FlowFileError(target, describeFsError(target, err), { cause: err })
    }
    if (found.length === 0) {
      throw new FlowFileError(target, `${target}: no flow files (*.json, *.yaml, *.yml) in this directory`)
    }
    files.push(...found)
  }
  return [...new Set(files)]
}
