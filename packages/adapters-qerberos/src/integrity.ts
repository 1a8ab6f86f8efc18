import { canonicalBytes } from '@qflow/canonical-json'
import {
  type IdentityVerifier,
  type IntegrityExpectations,
  type IntegrityFailure,
  type IntegrityReport,
  payloadDigest
} from '@qflow/pipeline'
import type { ErrorObject } from 'ajv'
import { InvalidExpectationsError } from './errors.js'
import type { SchemaCache } from './schema-cache.js'

/** The codes of integrity failures this package reports. */
export type IntegrityFailureCode =
  /** The payload's digest is not the expected one (or not the operation's `payloadDigest`). */
  | 'DIGEST_MISMATCH'
  /** The signature does not verify over the payload's canonical bytes (or the verifier failed). */
  | 'BAD_SIGNATURE'
  /** A signature was expected but no identity verifier was given to Qerberos. */
  | 'NO_SIGNATURE_VERIFIER'
  /** The payload does not satisfy the schema; `pointer` says where. */
  | 'SCHEMA_MISMATCH'
  /** The schema itself cannot be compiled. */
  | 'INVALID_SCHEMA'
  /** The payload has no JSON form (a cycle, a bigint, a non-finite number, a lone surrogate). */
  | 'PAYLOAD_NOT_JSON'
  /** Expectations need the payload but the operation carries only its digest. */
  | 'PAYLOAD_MISSING'

const DIGEST_FORMAT = /^sha256-[A-Za-z0-9_-]{43}$/

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Checks the shape of integrity expectations.
 *
 * @throws {@link InvalidExpectationsError} with a JSON pointer to the first malformed field.
 */
export function checkExpectations(expectations: unknown): asserts expectations is IntegrityExpectations {
  if (!isRecord(expectations)) throw new InvalidExpectationsError('', 'Integrity expectations must be an object')
  const { expectedDigest, signature, schema } = expectations
  if (expectedDigest !== undefined && (typeof expectedDigest !== 'string' || !DIGEST_FORMAT.test(expectedDigest))) {
    throw new InvalidExpectationsError('/expectedDigest', 'expectedDigest must be a payload digest (sha256-<base64url>)')
  }
  if (signature !== undefined) {
    if (!isRecord(signature)) throw new InvalidExpectationsError('/signature', 'signature must be an object')
    if (signature.alg !== 'EdDSA') throw new InvalidExpectationsError('/signature/alg', "signature alg must be 'EdDSA'")
    if (typeof signature.signer !== 'string' || signature.signer === '') {
      throw new InvalidExpectationsError('/signature/signer', 'signature signer must be an identity')
    }
    if (!(signature.value instanceof Uint8Array)) {
      throw new InvalidExpectationsError('/signature/value', 'signature value must be a Uint8Array')
    }
  }
  if (schema !== undefined && typeof schema !== 'boolean' && !isRecord(schema)) {
    throw new InvalidExpectationsError('/schema', 'schema must be a JSON Schema object or a boolean')
  }
}

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1')
}

function schemaFailure(error: ErrorObject): IntegrityFailure {
  let pointer = error.instancePath
  const params = error.params as Record<string, unknown>
  const member = params.missingProperty ?? params.additionalProperty ?? params.unevaluatedProperty
  if (typeof member === 'string') pointer += `/${escapePointer(member)}`
  return {
    code: 'SCHEMA_MISMATCH',
    message: `${pointer === '' ? '(root)' : pointer} ${error.message ?? `fails ${error.keyword}`} (${error.schemaPath})`,
    pointer
  }
}

function reason(err: unknown): string {
  const e = err as { name?: unknown; message?: unknown } | null
  const name = typeof e?.name === 'string' ? e.name : 'Error'
  return typeof e?.message === 'string' && e.message !== '' ? `${name}: ${e.message}` : name
}

/** Digests, signatures and schemas: the integrity half of Qerberos. */
export class IntegrityChecker {
  constructor(
    private readonly schemas: SchemaCache,
    private readonly verifier: Pick<IdentityVerifier, 'verifySignature'> | undefined,
    private readonly maxSchemaFailures: number
  ) {}

  /** Checks a payload against (already checked) expectations. Never throws. */
  async check(payload: unknown, expectations: IntegrityExpectations): Promise<IntegrityReport> {
    const failures: IntegrityFailure[] = []
    let bytes: Uint8Array | undefined
    let digest = ''
    try {
      bytes = payload instanceof Uint8Array ? payload : canonicalBytes(payload)
      digest = payloadDigest(bytes)
    } catch (err) {
      failures.push({ code: 'PAYLOAD_NOT_JSON', message: `The payload cannot be canonicalized: ${reason(err)}` })
    }
    if (expectations.expectedDigest !== undefined && bytes !== undefined && digest !== expectations.expectedDigest) {
      failures.push({ code: 'DIGEST_MISMATCH', message: `Expected digest ${expectations.expectedDigest}, got ${digest}` })
    }
    const signature = expectations.signature
    if (signature !== undefined && bytes !== undefined) {
      if (this.verifier === undefined) {
        failures.push({ code: 'NO_SIGNATURE_VERIFIER', message: 'A signature is expected but Qerberos has no identity verifier' })
      } else {
        let valid = false
        let why = `The signature by ${signature.signer} does not verify over the payload`
        try {
          valid = (await this.verifier.verifySignature(signature.signer, bytes, signature.value)) === true
        } catch (err) {
          why = `The signature by ${signature.signer} could not be verified: ${reason(err)}`
        }
        if (!valid) failures.push({ code: 'BAD_SIGNATURE', message: why })
      }
    }
    if (expectations.schema !== undefined) this.checkSchema(payload, expectations.schema, failures)
    return { ok: failures.length === 0, digest, failures }
  }

  /** Compares a digest the operation carries with the expectations, when the payload itself is absent. */
  checkDigest(digest: string, expectations: IntegrityExpectations): IntegrityReport {
    const failures: IntegrityFailure[] = []
    if (expectations.expectedDigest !== undefined && digest !== expectations.expectedDigest) {
      failures.push({ code: 'DIGEST_MISMATCH', message: `Expected digest ${expectations.expectedDigest}, got ${digest}` })
    }
    if (expectations.signature !== undefined || expectations.schema !== undefined) {
      failures.push({
        code: 'PAYLOAD_MISSING',
        message: 'A signature or schema is expected but the operation carries only the payload digest'
      })
    }
    return { ok: failures.length === 0, digest, failures }
  }

  private checkSchema(payload: unknown, schema: NonNullable<IntegrityExpectations['schema']>, failures: IntegrityFailure[]): void {
    const entry = this.schemas.lookup(schema)
    if ('error' in entry) {
      failures.push({ code: 'INVALID_SCHEMA', message: entry.error.message })
      return
    }
    let valid: boolean
    try {
      valid = entry.validate(payload) === true
    } catch (err) {
      failures.push({ code: 'SCHEMA_MISMATCH', message: `The payload could not be validated: ${reason(err)}`, pointer: '' })
      return
    }
    if (valid) return
    const errors = entry.validate.errors ?? []
    const max = this.maxSchemaFailures
    for (let i = 0; i < errors.length; i++) {
      if (i === max) {
        failures.push({ code: 'SCHEMA_MISMATCH', message: `${errors.length - max} more schema failures not listed`, pointer: '' })
        break
      }
      failures.push(schemaFailure(errors[i] as ErrorObject))
    }
    if (errors.length === 0) failures.push({ code: 'SCHEMA_MISMATCH', message: 'The payload does not satisfy the schema', pointer: '' })
  }
}
