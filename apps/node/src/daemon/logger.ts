import { type Logger, pino } from 'pino'
import type { LogLevel } from './config.js'

/**
 * The daemon's logger: one JSON object per line (`level` as its name, `time` in ISO 8601,
 * `name: "qflow"`, `pid`), written through `write` (standard output in the CLI). Fastify logs its
 * requests through the same logger.
 */
export function createDaemonLogger(level: LogLevel, write: (line: string) => void): Logger {
  return pino(
    {
      name: 'qflow',
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) }
    },
    { write }
  )
}
