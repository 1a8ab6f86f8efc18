/**
 * Pins the v1 stage contract. A stage written against v1 by another module must keep compiling
 * (checked by `tsc -b` over this file) and running (checked by vitest) whatever the pipeline's
 * own interface becomes. Changing anything here is a breaking change: bump the major version
 * and keep running v1 stages through an adapter.
 */
import { describe, expect, expectTypeOf, it } from 'vitest'
import * as pipelineModule from '../src/index.js'
import {
  createPipeline,
  type OperationContext,
  PIPELINE_API_VERSION,
  type PipelineStageV1,
  STAGE_ORDER,
  type StageTraceEntry,
  type StageVerdict,
  SUPPORTED_STAGE_API_VERSIONS
} from '../src/index.js'

type ContractV1 = {
  readonly name: 'qlock' | 'qonsent' | 'qindex' | 'qerberos'
  readonly apiVersion: 1
  evaluate(
    operation: OperationContext,
    earlier: readonly StageTraceEntry[],
    signal?: AbortSignal
  ): StageVerdict | Promise<StageVerdict>
}

type VerdictV1 =
  | { readonly ok: true; readonly details?: Readonly<Record<string, unknown>> }
  | {
      readonly ok: false
      readonly code: string
      readonly reason: string
      readonly details?: Readonly<Record<string, unknown>>
      readonly retryable?: boolean
    }

describe('stage contract v1', () => {
  it('keeps its shape', () => {
    expectTypeOf<PipelineStageV1>().toEqualTypeOf<ContractV1>()
    expectTypeOf<StageVerdict>().toEqualTypeOf<VerdictV1>()
    expectTypeOf<OperationContext>().toHaveProperty('kind').toEqualTypeOf<string>()
    expectTypeOf<OperationContext>().toHaveProperty('traceId').toEqualTypeOf<string>()
    expectTypeOf<OperationContext>().toHaveProperty('pipelineVersion').toEqualTypeOf<string>()
    expect(PIPELINE_API_VERSION).toBe(1)
    expect(SUPPORTED_STAGE_API_VERSIONS).toContain(1)
    expect(STAGE_ORDER).toEqual(['qlock', 'qonsent', 'qindex', 'qerberos'])
  })

  it('runs a stage written as a plain v1 object by another module', async () => {
    const seen: unknown[] = []
    const v1: ContractV1[] = STAGE_ORDER.map((name) => ({
      name,
      apiVersion: 1 as const,
      evaluate: (operation: OperationContext, earlier: readonly StageTraceEntry[]) => {
        seen.push([name, operation.resource, earlier.length])
        return name === 'qindex' ? Promise.resolve({ ok: true as const, details: { n: 1 } }) : { ok: true as const }
      }
    }))
    const result = await createPipeline({ stages: v1 }).run({
      kind: 'mail.send',
      actor: { did: 'did:key:z6Mkv1' },
      resource: 'qmail:message:1',
      action: 'write'
    })
    expect(seen).toEqual([
      ['qlock', 'qmail:message:1', 0],
      ['qonsent', 'qmail:message:1', 1],
      ['qindex', 'qmail:message:1', 2],
      ['qerberos', 'qmail:message:1', 3]
    ])
    expect(result.trace[2]?.verdict).toEqual({ ok: true, details: { n: 1 } })
  })

  it('exports the v1 public surface', () => {
    expect(Object.keys(pipelineModule).sort()).toEqual(
      [
        'DEFAULT_PIPELINE_VERSION',
        'MissingStageError',
        'PASS',
        'PIPELINE_API_VERSION',
        'PipelineHaltedError',
        'STAGE_ORDER',
        'SUPPORTED_STAGE_API_VERSIONS',
        'StageOrderError',
        'UnsupportedStageVersionError',
        'createDefaultPipeline',
        'createOperationContext',
        'createPipeline',
        'earlierDetails',
        'operationSigningBytes',
        'passThroughStage',
        'payloadDigest',
        'qerberosStage',
        'qindexStage',
        'qlockStage',
        'qonsentStage',
        'verdictFromError'
      ].sort()
    )
  })
})
