/**
 * Thrown when a value cannot be canonicalized: it holds something JSON cannot represent
 * (a non-finite number, a bigint, a function, a lone surrogate), or it nests deeper than the limit
 * (which is also how a cyclic structure shows up).
 */
export class CanonicalizationError extends Error {
  static override readonly name = 'CanonicalizationError'
  override readonly name = 'CanonicalizationError'
  /** JSON pointer to the offending value. */
  readonly pointer: string

  constructor(message = 'Value cannot be canonicalized', pointer = '') {
    super(pointer === '' ? message : `${message} (at ${pointer})`)
    this.pointer = pointer
  }
}
