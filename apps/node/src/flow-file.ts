import {
  type Flow,
  FlowParseError,
  type FlowProblem,
  flowHash,
  parseFlow,
  validateFlow
} from '@qflow/flow-schema'
import { InvalidFlowFileError } from './errors.js'
import { type FlowFileFormat, type FlowSource, readFlowSource } from './files.js'
import type { CliIo } from './io.js'
import { pointerLocator } from './locate.js'

/** Whether a problem makes a flow invalid. */
export type ProblemSeverity = 'error' | 'warning'

/** A validation problem placed in its file: the line and column its JSON pointer leads to. */
export interface LocatedProblem extends FlowProblem {
  /** `error` or `warning`. */
  severity: ProblemSeverity
  /** 1-based line of the pointed-at value (of its key, for an object member). */
  line: number
  /** 1-based column. */
  column: number
}

/** What checking one flow file found. */
export interface FlowFileReport {
  /** The path as given (or found while walking a directory). */
  file: string
  /** The format the file was read as; absent when it could not be read. */
  format?: FlowFileFormat
  /** True when the file parsed and holds a valid flow (warnings allowed). */
  valid: boolean
  /** The flow's id, when the document has a string one. */
  id?: string
  /** The flow's version, when the document has a string one. */
  version?: string
  /** The flow hash, when valid. */
  hash?: string
  /** Every error, in source order. */
  errors: LocatedProblem[]
  /** Every warning, in source order. */
  warnings: LocatedProblem[]
}

/** A flow file that parsed and validated. */
export interface LoadedFlowFile {
  /** The file's text and format. */
  source: FlowSource
  /** The valid flow. */
  flow: Flow
  /** What checking it found (`valid` is true; warnings may be present). */
  report: FlowFileReport
}

function bySourcePosition(a: LocatedProblem, b: LocatedProblem): number {
  return a.line - b.line || a.column - b.column
}

/** The message of a parse error without the "(line n, column m)" the position already says. */
function parseMessage(err: FlowParseError): string {
  return err.message.replace(/ \(line \d+, column \d+\)$/, '')
}

/**
 * Parses and validates a flow file's text and places every problem at its line and column.
 * Never throws for bad content: a document that does not parse gives one `parse:<code>` error.
 */
export function checkFlowSource(source: FlowSource): { report: FlowFileReport; flow?: Flow } {
  const report: FlowFileReport = { file: source.path, format: source.format, valid: false, errors: [], warnings: [] }
  let doc: unknown
  try {
    doc = parseFlow(source.text, { format: source.format })
  } catch (err) {
    if (!(err instanceof FlowParseError)) throw err
    report.errors.push({
      severity: 'error',
      pointer: '',
      code: `parse:${err.code}`,
      message: parseMessage(err),
      line: err.line,
      column: err.column
    })
    return { report }
  }
  const head = doc as { id?: unknown; version?: unknown } | null
  if (typeof head?.id === 'string') report.id = head.id
  if (typeof head?.version === 'string') report.version = head.version
  const result = validateFlow(doc)
  if (result.errors.length > 0 || result.warnings.length > 0) {
    const locate = pointerLocator(source.text)
    const place = (severity: ProblemSeverity) => (problem: FlowProblem): LocatedProblem => ({ severity, ...problem, ...locate(problem.pointer) })
    report.errors = result.errors.map(place('error')).sort(bySourcePosition)
    report.warnings = result.warnings.map(place('warning')).sort(bySourcePosition)
  }
  if (!result.valid || result.flow === undefined) return { report }
  report.valid = true
  report.hash = flowHash(result.flow)
  return { report, flow: result.flow }
}

/**
 * Reads, parses and validates a flow file.
 *
 * @throws {@link FlowFileError} when it cannot be read; {@link InvalidFlowFileError} when it does not parse or is not a valid flow.
 */
export async function loadFlowFile(path: string, io: CliIo): Promise<LoadedFlowFile> {
  const source = await readFlowSource(path, io)
  const { report, flow } = checkFlowSource(source)
  if (flow === undefined) throw new InvalidFlowFileError(report)
  return { source, flow, report }
}
