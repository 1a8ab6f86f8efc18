import { createHash } from 'node:crypto'
import { canonicalize } from '@qflow/canonical-json'
import { InvalidCursorError } from './errors.js'
import type { NormalizedQuery } from './validate.js'

/** Where a page ended: the last record's sort value and key. */
export interface CursorPosition {
  /** The sort field's value (a number for times, a string for name and key). */
  readonly value: number | string
  /** The record's key (the tie-breaker). */
  readonly key: string
}

const CURSOR_VERSION = 1
const BASE64URL = /^[A-Za-z0-9_-]+$/

/**
 * What a cursor is bound to: every criterion and the sort, not the page size. A cursor is only
 * accepted by a query with the same fingerprint.
 */
export function queryFingerprint(query: NormalizedQuery): string {
  const { limit: _limit, cursor: _cursor, ...shape } = query
  return createHash('sha256').update(canonicalize(shape)).digest('base64url').slice(0, 22)
}

/** Makes the opaque cursor for the page after `position`. */
export function encodeCursor(fingerprint: string, position: CursorPosition): string {
  return Buffer.from(JSON.stringify([CURSOR_VERSION, fingerprint, position.value, position.key])).toString('base64url')
}

/**
 * Reads a cursor back.
 *
 * @throws {@link InvalidCursorError} when it is not a cursor, or was issued for another query or sort.
 */
export function decodeCursor(cursor: string, fingerprint: string, valueType: 'number' | 'string'): CursorPosition {
  if (!BASE64URL.test(cursor)) throw new InvalidCursorError('The cursor is not a cursor this index issued')
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw new InvalidCursorError('The cursor is not a cursor this index issued')
  }
  if (!Array.isArray(parsed) || parsed.length !== 4 || parsed[0] !== CURSOR_VERSION) {
    throw new InvalidCursorError('The cursor is not a cursor this index issued')
  }
  const [, boundTo, value, key] = parsed as [unknown, unknown, unknown, unknown]
  if (boundTo !== fingerprint) throw new InvalidCursorError('The cursor was issued for a different query or sort order')
  const valueOk = valueType === 'number' ? typeof value === 'number' && Number.isFinite(value) : typeof value === 'string'
  if (!valueOk || typeof key !== 'string') throw new InvalidCursorError('The cursor is not a cursor this index issued')
  return { value: value as number | string, key }
}
