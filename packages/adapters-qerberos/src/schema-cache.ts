import { createHash } from 'node:crypto'
import { canonicalize } from '@qflow/canonical-json'
import type { ErrorObject, ValidateFunction } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { InvalidSchemaError } from './errors.js'

/** A compiled schema, or why it could not be compiled (cached either way). */
export type SchemaEntry =
  | { readonly hash: string; readonly validate: ValidateFunction; readonly compiled: object | boolean }
  | { readonly hash: string; readonly error: InvalidSchemaError }

// ajv-formats is CommonJS: its default export reaches ESM as the plugin itself or as `{ default }`.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (
  ajv: Ajv2020
) => Ajv2020

/**
 * JSON Schema 2020-12 validators (ajv, with ajv-formats), each schema compiled once and kept by
 * the SHA-256 of its canonical JSON in a bounded LRU. Schemas that fail to compile are cached too,
 * so a bad schema costs one compile attempt, not one per check.
 */
export class SchemaCache {
  private readonly ajv: Ajv2020
  private readonly entries = new Map<string, SchemaEntry>()
  private readonly byObject = new WeakMap<object, { readonly json: string; readonly hash: string }>()

  constructor(private readonly capacity: number) {
    this.ajv = new Ajv2020({ allErrors: true, strict: false, logger: false, addUsedSchema: false, validateFormats: true })
    addFormats(this.ajv)
  }

  /** Schemas cached (compiled or not). */
  get size(): number {
    return this.entries.size
  }

  /** The cached entry for a schema, compiling it on first sight. Never throws. */
  lookup(schema: unknown): SchemaEntry {
    let hash: string
    let text: string | undefined
    try {
      if (typeof schema === 'boolean') {
        hash = schema ? 'true' : 'false'
        text = hash
      } else if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
        return { hash: '', error: new InvalidSchemaError(['a schema must be an object or a boolean']) }
      } else {
        // The same schema object is usually passed again and again (a step's outputSchema).
        // Canonicalizing it each time costs more than validating, so its hash is remembered by
        // identity and reused while its plain JSON text is unchanged (a mutated object is hashed anew).
        const json = JSON.stringify(schema)
        const seen = this.byObject.get(schema)
        if (seen !== undefined && seen.json === json) {
          hash = seen.hash
        } else {
          text = canonicalize(schema)
          hash = createHash('sha256').update(text).digest('base64url')
          this.byObject.set(schema, { json, hash })
        }
      }
    } catch (err) {
      return { hash: '', error: new InvalidSchemaError([`the schema is not JSON: ${(err as Error).message}`]) }
    }
    const entries = this.entries
    const hit = entries.get(hash)
    if (hit !== undefined) {
      entries.delete(hash)
      entries.set(hash, hit)
      return hit
    }
    let entry: SchemaEntry
    try {
      entry = this.compile(hash, text ?? canonicalize(schema))
    } catch (err) {
      return { hash: '', error: new InvalidSchemaError([`the schema is not JSON: ${(err as Error).message}`]) }
    }
    if (entries.size >= this.capacity) {
      const oldest = entries.entries().next()
      if (oldest.done !== true) {
        entries.delete(oldest.value[0])
        const evicted = oldest.value[1]
        if ('compiled' in evicted && typeof evicted.compiled === 'object') this.ajv.removeSchema(evicted.compiled)
      }
    }
    entries.set(hash, entry)
    return entry
  }

  private compile(hash: string, text: string): SchemaEntry {
    // Compile a private copy: ajv caches by object identity, and the caller's object may change.
    const compiled = JSON.parse(text) as Record<string, unknown> | boolean
    // A root without `$id` gets one, so that `$ref: "#"` (a recursive schema) resolves although
    // schemas are not added to ajv's registry (two schemas may then share an `$id`).
    if (typeof compiled === 'object' && compiled.$id === undefined) compiled.$id = `urn:qflow:qerberos:schema:${hash}`
    try {
      return { hash, validate: this.ajv.compile(compiled), compiled }
    } catch (err) {
      const errors = (err as { errors?: ErrorObject[] }).errors
      const messages = Array.isArray(errors) && errors.length > 0
        ? errors.map((e) => `${e.instancePath === '' ? '/' : e.instancePath} ${e.message ?? e.keyword}`)
        : [String((err as Error)?.message ?? err)]
      return { hash, error: new InvalidSchemaError(messages) }
    }
  }
}
