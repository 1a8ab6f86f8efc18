import { createHash, randomUUID } from 'node:crypto'
import { canonicalBytes } from '@qflow/canonical-json'
import type { DetachedSignature } from './contracts/identity.js'
import type { IndexRecord } from './contracts/qindex.js'
import type { IntegrityExpectations } from './contracts/qerberos.js'

/** The actions Qonsent knows; modules may use their own verbs too. */
export type OperationAction = 'read' | 'write' | 'execute' | 'admin' | 'share' | (string & {})

/**
 * How the actor proves it is who it says: an identity token, a detached signature over the
 * operation's signing bytes ({@link operationSigningBytes}), or both. A delegation chain makes a
 * sub-identity act under its root.
 */
export interface ActorCredentials {
  /** A short-lived signed identity token (sQuid). */
  readonly token?: string
  /** A detached signature by the actor over {@link operationSigningBytes}. */
  readonly signature?: DetachedSignature
  /** Delegations from a root identity down to the actor, root first. */
  readonly delegation?: readonly unknown[]
  /**
   * A trusted node identity that authenticated the actor earlier and now performs the operation
   * on its behalf (an engine running the next step of an execution the actor started). Accepted
   * only when the Qlock stage lists it among its trusted actors; when `signature` is present it
   * must then be that node's signature over the operation.
   */
  readonly vouchedBy?: string
}

/** Who performs an operation. */
export interface ActorRef {
  /** The actor's identity (a `did:key`, or a legacy `squid:` id). */
  readonly did: string
  /** Proofs of the identity; absent for operations the node performs as itself. */
  readonly credentials?: ActorCredentials
}

/** What a caller hands to {@link Pipeline.run}. */
export interface OperationInput {
  /** What is being done, e.g. `flow.create`, `exec.step`, `webhook.receive`. */
  readonly kind: string
  /** Who does it. */
  readonly actor: ActorRef
  /** What it is done to, e.g. `qflow:flow:<id>`. */
  readonly resource: string
  /** The permission it needs. */
  readonly action: OperationAction
  /** The data the operation carries (hashed into {@link OperationContext.payloadDigest}). */
  readonly payload?: unknown
  /** The payload's digest, when the caller holds only the digest or already computed it. */
  readonly payloadDigest?: string
  /** The DAO subnet (tenant) the operation belongs to. */
  readonly subnet?: string
  /** A trace id to carry on; a new one is made when absent. */
  readonly traceId?: string
  /** When the operation was issued, ms since the epoch; now when absent. */
  readonly issuedAt?: number
  /** The metadata record Qindex stores for this operation, if any. */
  readonly index?: IndexRecord
  /** What Qerberos must check of the payload (hash, signature, schema), if anything. */
  readonly integrity?: IntegrityExpectations
  /** Free-form, read-only extra facts for stages (client address, route, ...). */
  readonly attributes?: Readonly<Record<string, unknown>>
}

/** The immutable context every stage sees. */
export interface OperationContext extends OperationInput {
  readonly traceId: string
  readonly issuedAt: number
  /** The pipeline version that ran the operation. */
  readonly pipelineVersion: string
}

/**
 * Digest of a payload as Qflow names it: `sha256-` followed by the base64url SHA-256 of the
 * payload's RFC 8785 canonical bytes (raw bytes are hashed as they are).
 */
export function payloadDigest(payload: unknown): string {
  const bytes = payload instanceof Uint8Array ? payload : canonicalBytes(payload)
  return `sha256-${createHash('sha256').update(bytes).digest('base64url')}`
}

/**
 * The bytes an actor signs to authenticate an operation: the canonical JSON of its kind, actor,
 * resource, action, payload digest, subnet and issue time.
 */
export function operationSigningBytes(operation: OperationContext): Uint8Array {
  return canonicalBytes({
    kind: operation.kind,
    actor: operation.actor.did,
    resource: operation.resource,
    action: operation.action,
    payloadDigest: operation.payloadDigest,
    subnet: operation.subnet,
    issuedAt: operation.issuedAt
  })
}

/**
 * Builds the frozen context of an operation: the fields of {@link OperationInput} the input has
 * (no others), with trace id, issue time and payload digest filled in. Fields are copied one by one
 * rather than spread: operations of every kind pass here, and a spread of that many shapes cost
 * ten times as much.
 */
export function createOperationContext(input: OperationInput, pipelineVersion: string): OperationContext {
  const context: { -readonly [K in keyof OperationContext]: OperationContext[K] } = {
    kind: input.kind,
    actor: input.actor,
    resource: input.resource,
    action: input.action,
    traceId: input.traceId ?? randomUUID(),
    issuedAt: input.issuedAt ?? Date.now(),
    pipelineVersion
  }
  if (input.payload !== undefined) context.payload = input.payload
  if (input.payloadDigest !== undefined) context.payloadDigest = input.payloadDigest
  else if (input.payload !== undefined) context.payloadDigest = payloadDigest(input.payload)
  if (input.subnet !== undefined) context.subnet = input.subnet
  if (input.index !== undefined) context.index = input.index
  if (input.integrity !== undefined) context.integrity = input.integrity
  if (input.attributes !== undefined) context.attributes = input.attributes
  return Object.freeze(context)
}
