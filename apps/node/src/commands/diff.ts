import { diffFlows, type FlowFieldChange } from '@qflow/flow-schema'
import type { Command } from 'commander'
import { loadFlowFile } from '../flow-file.js'
import type { CommandContext } from '../program.js'

/** Longest rendering of one value in the human diff before it is cut short. */
const MAX_VALUE_WIDTH = 100

const MARK: Record<FlowFieldChange['kind'], string> = { added: '+', removed: '-', changed: '~' }

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function render(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined'
  return text.length <= MAX_VALUE_WIDTH ? text : `${text.slice(0, MAX_VALUE_WIDTH - 1)}…`
}

function escapeToken(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1')
}

/**
 * Splits a change of one object member into the changes of its leaves, so that a changed `params`
 * shows as `/steps/0/params/url: "a" -> "b"` rather than as two whole objects. Arrays and values
 * of different kinds stay whole.
 */
export function leafChanges(change: FlowFieldChange): FlowFieldChange[] {
  if (change.kind !== 'changed' || !isPlainObject(change.before) || !isPlainObject(change.after)) return [change]
  const before = change.before
  const after = change.after
  const out: FlowFieldChange[] = []
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const pointer = `${change.pointer}/${escapeToken(key)}`
    const has = [Object.hasOwn(before, key), Object.hasOwn(after, key)]
    if (has[0] && !has[1]) out.push({ pointer, kind: 'removed', before: before[key] })
    else if (!has[0] && has[1]) out.push({ pointer, kind: 'added', after: after[key] })
    else if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) {
      out.push(...leafChanges({ pointer, kind: 'changed', before: before[key], after: after[key] }))
    }
  }
  return out
}

function changeLine(change: FlowFieldChange, indent: string): string {
  const value =
    change.kind === 'added' ? render(change.after) : change.kind === 'removed' ? render(change.before) : `${render(change.before)} -> ${render(change.after)}`
  return `${indent}${MARK[change.kind]} ${change.pointer}  ${value}`
}

/** Adds `qflow flow diff <a> <b>`. */
export function registerDiffCommand(flow: Command, context: CommandContext): void {
  flow
    .command('diff')
    .description('show what changed from flow a to flow b: fields, and steps added, removed, changed or moved')
    .argument('<a>', 'the older flow file')
    .argument('<b>', 'the newer flow file')
    .addHelpText(
      'after',
      `
Both files must be valid flows; they may be in different formats. Exits 0 whether or not they
differ (use --json and .equal in scripts). Lines start with + added, - removed, ~ changed, ^ moved.

Examples:
  $ qflow flow diff v1.yaml v2.yaml
  $ qflow --json flow diff v1.yaml v2.json | jq '.diff.changedSteps[].id'`
    )
    .action(async (fileA: string, fileB: string, _options: unknown, command: Command) => {
      const output = context.output(command)
      const a = await loadFlowFile(fileA, context.io)
      const b = await loadFlowFile(fileB, context.io)
      const diff = diffFlows(a.flow, b.flow)
      const side = (file: string, loaded: typeof a) => ({ file, id: loaded.flow.id, version: loaded.flow.version, hash: loaded.report.hash })
      output.result({ a: side(fileA, a), b: side(fileB, b), diff }, () => {
        const lines = [
          `--- ${fileA}  ${a.flow.id}@${a.flow.version}  ${a.report.hash}`,
          `+++ ${fileB}  ${b.flow.id}@${b.flow.version}  ${b.report.hash}`
        ]
        if (diff.equal) return `${lines.join('\n')}\nno differences`
        if (diff.changedFields.length > 0) {
          lines.push('', 'fields')
          for (const change of diff.changedFields.flatMap(leafChanges)) lines.push(changeLine(change, '  '))
        }
        const stepCount = diff.addedSteps.length + diff.removedSteps.length + diff.changedSteps.length + diff.movedSteps.length
        if (stepCount > 0) {
          lines.push('', 'steps')
          for (const id of diff.addedSteps) {
            const index = b.flow.steps.findIndex((step) => step.id === id)
            lines.push(`  + ${id}  added (${b.flow.steps[index]?.type ?? '?'}, /steps/${index})`)
          }
          for (const id of diff.removedSteps) lines.push(`  - ${id}  removed`)
          for (const step of diff.changedSteps) {
            const changes = step.changes.flatMap(leafChanges)
            lines.push(`  ~ ${step.id}  ${changes.length} change${changes.length === 1 ? '' : 's'}`)
            for (const change of changes) lines.push(changeLine(change, '      '))
          }
          for (const move of diff.movedSteps) lines.push(`  ^ ${move.id}  moved from /steps/${move.from} to /steps/${move.to}`)
        }
        return lines.join('\n')
      })
    })
}
