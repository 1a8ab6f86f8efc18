/**
 * RFC 8785 JSON canonicalization: one byte string per JSON value, whatever its key order or
 * whitespace, so that hashes and signatures over JSON are stable across nodes.
 *
 * @example
 * ```ts
 * import { canonicalize } from '@qflow/canonical-json'
 *
 * canonicalize({ b: 1, a: [true, null, 1e21] }) // '{"a":[true,null,1e+21],"b":1}'
 * ```
 *
 * @packageDocumentation
 */
export { canonicalBytes, canonicalize, type CanonicalizeOptions, sortedKeys } from './canonicalize.js'
export { DEFAULT_MAX_DEPTH } from './constants.js'
export { CanonicalizationError } from './errors.js'
