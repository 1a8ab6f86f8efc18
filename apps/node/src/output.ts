import type { CliIo } from './io.js'

/** How a command reports: tables and lines for people, or one JSON document for scripts. */
export interface Output {
  /** `true` under the global `--json` option. */
  readonly json: boolean
  /**
   * Writes a command's result to standard output: `value` as JSON under `--json`, else the
   * text `human` makes.
   */
  result(value: unknown, human: () => string): void
  /** Writes a diagnostic line to standard error (text, or `{ "error": … }` under `--json`). */
  error(message: string, details?: Record<string, unknown>): void
}

/** Makes the {@link Output} of one command run. */
export function createOutput(io: CliIo, json: boolean): Output {
  return {
    json,
    result(value, human) {
      if (json) {
        io.stdout(`${JSON.stringify(value, null, 2)}\n`)
        return
      }
      const text = human()
      if (text !== '') io.stdout(text.endsWith('\n') ? text : `${text}\n`)
    },
    error(message, details = {}) {
      if (json) io.stderr(`${JSON.stringify({ error: { message, ...details } })}\n`)
      else io.stderr(`qflow: ${message}\n`)
    }
  }
}

/** A time (ms since the epoch) as the CLI's tables and messages print it. */
export function iso(ts: number): string {
  return new Date(ts).toISOString()
}

/** Options for {@link renderTable}. */
export interface TableOptions {
  /** Columns (by index) aligned to the right, such as counts. */
  alignRight?: readonly number[]
}

/**
 * Lays rows out under headers in space-padded columns (two spaces apart), the last column left
 * unpadded. Widths count UTF-16 code units, which is right for the ASCII this CLI prints.
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[], options: TableOptions = {}): string {
  const right = new Set(options.alignRight ?? [])
  const all = [headers, ...rows]
  const widths = headers.map((_, column) => Math.max(...all.map((row) => (row[column] ?? '').length)))
  const lines = all.map((row) =>
    headers
      .map((_, column) => {
        const cell = row[column] ?? ''
        const width = widths[column] ?? 0
        if (right.has(column)) return cell.padStart(width)
        return column === headers.length - 1 ? cell : cell.padEnd(width)
      })
      .join('  ')
      .trimEnd()
  )
  return `${lines.join('\n')}\n`
}
