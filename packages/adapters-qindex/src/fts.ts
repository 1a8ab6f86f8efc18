import { MAX_TEXT_TERMS } from './constants.js'
import { InvalidIndexQueryError } from './errors.js'

/**
 * A character the FTS5 `unicode61` tokenizer keeps in a token (its default categories `L* N* Co`).
 * A term without one holds no token and can match nothing.
 */
const TOKEN_CHAR = /[\p{L}\p{N}\p{Co}]/u

/**
 * Turns user text into an FTS5 query that cannot be a syntax error: the text is split on
 * whitespace, every term is quoted as an FTS5 string (inner `"` doubled, NUL removed, since FTS5
 * stops reading at one), terms are ANDed, and a term ending in `*` becomes a prefix search.
 * Operators in the text (`AND`, `NEAR`, `-`, `:`, parentheses) are searched as words.
 *
 * Returns `null` when no term holds a searchable character: such text matches nothing.
 *
 * @throws {@link InvalidIndexQueryError} when the text has more than {@link MAX_TEXT_TERMS} terms.
 */
export function ftsMatchExpression(text: string): string | null {
  const terms = text.replaceAll('\u0000', ' ').split(/\s+/u).filter((term) => term !== '')
  if (terms.length > MAX_TEXT_TERMS) {
    throw new InvalidIndexQueryError(`Search text has ${terms.length} terms; at most ${MAX_TEXT_TERMS} are allowed`, 'text')
  }
  const phrases: string[] = []
  for (const raw of terms) {
    const prefix = raw.length > 1 && raw.endsWith('*')
    const term = prefix ? raw.replace(/\*+$/u, '') : raw
    if (!TOKEN_CHAR.test(term)) continue
    phrases.push(`"${term.replaceAll('"', '""')}"${prefix ? '*' : ''}`)
  }
  return phrases.length === 0 ? null : phrases.join(' ')
}
