import { InvalidFlowFileError } from './errors.js'
import type { FlowFileReport, LocatedProblem } from './flow-file.js'

/** Names of the errors that come from bad input, reported without a stack trace. */
export const EXPECTED_ERRORS: ReadonlySet<string> = new Set([
  'FlowFileError',
  'KeyFileError',
  'OutputFileError',
  'InvalidFlowFileError',
  'FlowParseError',
  'FlowValidationError',
  'FlowSignatureError',
  'DidKeyError',
  'SigningKeyError',
  'InputError',
  'DataDirLockedError',
  'DataDirCorruptError',
  'NodePassphraseError',
  'NodeConfigError',
  'UnknownExecutionError',
  'ExecutionNotFoundError',
  'FlowReferenceError',
  'FlowNotFoundError',
  'LogIntegrityError',
  'InvalidInputError',
  'PipelineHaltedError',
  'InvalidAllowListError'
])

/** Whether an error comes from bad input (by its `name`) rather than from a defect. */
export function isExpectedError(err: unknown): boolean {
  return err instanceof Error && EXPECTED_ERRORS.has(err.name)
}

/**
 * One problem as an editor-style line: `file:line:col severity pointer code message`. The root
 * pointer (`''`) prints as `/` would be ambiguous, so it prints as `#`.
 */
export function formatProblem(file: string, problem: LocatedProblem): string {
  const pointer = problem.pointer === '' ? '#' : problem.pointer
  return `${file}:${problem.line}:${problem.column} ${problem.severity} ${pointer} ${problem.code} ${problem.message}`
}

/** Every problem of a report, errors first, one line each. */
export function formatReportProblems(report: FlowFileReport): string[] {
  return [...report.errors, ...report.warnings].map((problem) => formatProblem(report.file, problem))
}

/** An error as one message plus, for `--json`, its structured fields. */
export function describeError(err: unknown): { message: string; details: Record<string, unknown> } {
  if (!(err instanceof Error)) return { message: String(err), details: {} }
  const details: Record<string, unknown> = { name: err.name }
  for (const field of ['path', 'reason', 'signer', 'line', 'column', 'code', 'dataDir', 'pid', 'executionId', 'seq', 'option', 'ref'] as const) {
    const value = (err as unknown as Record<string, unknown>)[field]
    if (value !== undefined) details[field] = value
  }
  if (err instanceof InvalidFlowFileError) {
    details.report = err.report
    const lines = formatReportProblems(err.report).map((line) => `  ${line}`)
    return { message: `${err.message}:\n${lines.join('\n')}`, details }
  }
  return { message: err.message, details }
}
