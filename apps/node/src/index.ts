/**
 * The Qflow node. For now, the `qflow` command line: validate, hash, sign, verify and diff flow
 * documents, and make signing keys. Run it as `qflow …`, or in-process with {@link runCli}.
 *
 * @example
 * ```ts
 * // from apps/node, after a build
 * import { runCli } from '@qflow/node'
 *
 * const out: string[] = []
 * const code = await runCli(['flow', 'validate', '../../examples/flows'], {
 *   stdout: (text) => out.push(text),
 *   stderr: (text) => out.push(text),
 *   readStdin: async () => '',
 *   cwd: process.cwd(),
 *   env: {}
 * })
 * console.log(code) // 0 when every flow is valid
 * ```
 *
 * @packageDocumentation
 */
export { leafChanges } from './commands/diff.js'
export { DEBUG_ENV, ExitCode, type ExitCodeValue, FLOW_FILE_EXTENSIONS, KEY_FILE_MODE } from './constants.js'
export { FlowFileError, InvalidFlowFileError, KeyFileError, OutputFileError } from './errors.js'
export { collectFlowFiles, type FlowFileFormat, type FlowSource, formatFromPath, formatFromText, readFlowSource } from './files.js'
export { checkFlowSource, type FlowFileReport, type LoadedFlowFile, type LocatedProblem, loadFlowFile, type ProblemSeverity } from './flow-file.js'
export { type CliIo, processIo } from './io.js'
export { type PointerLocator, pointerLocator, pointerSegments, type SourcePosition } from './locate.js'
export { createOutput, type Output, renderTable, type TableOptions } from './output.js'
export { buildProgram, type CommandContext, type CommandOutcome, runCli } from './program.js'
export { describeError, formatProblem, isExpectedError } from './report.js'
export { signedFlowText } from './signed-text.js'
