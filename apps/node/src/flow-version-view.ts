import type { FlowVersion } from '@qflow/state'
import { renderTable } from './output.js'

/** A registry revision as the API answers it and the `flow` commands print it with `--json`. */
export interface FlowVersionView {
  readonly flowId: string
  readonly revision: number
  readonly action: string
  readonly flowVersion: string
  readonly flowHash: string
  readonly archived: boolean
  readonly rolledBackTo?: number
  readonly cid: string
  readonly actor: string
  readonly ts: number
}

/**
 * A {@link FlowVersion} (or a revision read back from the API) as plain JSON: the CID as a
 * string, fields in one order, nothing else.
 */
export function flowVersionView(v: FlowVersion | FlowVersionView): FlowVersionView {
  return {
    flowId: v.flowId,
    revision: v.revision,
    action: v.action,
    flowVersion: v.flowVersion,
    flowHash: v.flowHash,
    archived: v.archived,
    ...(v.rolledBackTo === undefined ? {} : { rolledBackTo: v.rolledBackTo }),
    cid: v.cid.toString(),
    actor: v.actor,
    ts: v.ts
  }
}

/** A flow's revisions as `flow history` prints them for people. */
export function flowHistoryTable(versions: readonly (FlowVersion | FlowVersionView)[]): string {
  return renderTable(
    ['REVISION', 'ACTION', 'VERSION', 'HASH', 'ARCHIVED', 'TIME'],
    versions.map((v) => [
      String(v.revision),
      v.rolledBackTo === undefined ? v.action : `${v.action} to ${v.rolledBackTo}`,
      v.flowVersion,
      v.flowHash,
      v.archived ? 'yes' : 'no',
      new Date(v.ts).toISOString()
    ]),
    { alignRight: [0] }
  )
}
