import { describe, expect, it } from 'vitest'
import {
  bumpVersion,
  checkFlowHistory,
  compareVersions,
  diffFlows,
  type Flow,
  findFlowVersion,
  flowHash,
  type FlowVersionError,
  loadFlow,
  nextVersion,
  parseVersion,
  rollbackFlow,
  sameFlowContent,
  validateFlow
} from '../src/index.js'
import { fixture, flowWith, logStep } from './fixtures/flows.js'

function versionError(fn: () => unknown): FlowVersionError {
  try {
    fn()
  } catch (err) {
    expect((err as Error).name).toBe('FlowVersionError')
    return err as FlowVersionError
  }
  throw new Error('expected FlowVersionError')
}

describe('semantic versions', () => {
  it('parses, compares and bumps', () => {
    expect(parseVersion('1.2.3-rc.1+build.5')).toEqual({ major: 1, minor: 2, patch: 3, prerelease: ['rc', '1'], build: ['build', '5'] })
    const ordered = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.1.0', '2.0.0']
    for (let i = 1; i < ordered.length; i++) expect(compareVersions(ordered[i - 1] as string, ordered[i] as string)).toBeLessThan(0)
    expect(compareVersions('1.0.0+a', '1.0.0+b')).toBe(0)
    expect(bumpVersion('1.2.3')).toBe('1.2.4')
    expect(bumpVersion('1.2.3', 'minor')).toBe('1.3.0')
    expect(bumpVersion('1.2.3', 'major')).toBe('2.0.0')
    expect(bumpVersion('1.3.0-rc.1', 'patch')).toBe('1.3.0')
    expect(versionError(() => parseVersion('1.2')).reason).toBe('invalid-version')
  })
})

describe('versions of a flow', () => {
  const v1 = loadFlow(fixture('order-flow.yaml'))

  it('nextVersion links to the previous hash and bumps the version', () => {
    const v2 = nextVersion(v1, { description: 'Now with a review step' })
    expect(v2.version).toBe('2.2.0')
    expect(v2.previousVersion).toBe(flowHash(v1))
    expect(v2.description).toBe('Now with a review step')
    expect(v1.previousVersion).toBeUndefined()
    expect(validateFlow(v2).valid).toBe(true)
    const v3 = nextVersion(v2, (draft) => ({ ...draft, steps: draft.steps.filter((s) => s.id !== 'shape-report') }), { bump: 'major' })
    expect(v3.version).toBe('3.0.0')
    expect(v3.steps).toHaveLength(10)
    expect(v2.steps).toHaveLength(11)
    expect(nextVersion(v2, { description: undefined }).description).toBeUndefined()
    expect(nextVersion(v2, {}, { version: '9.0.0' }).version).toBe('9.0.0')
    expect(versionError(() => nextVersion(v2, {}, { version: '2.2.0' })).reason).toBe('version-not-increasing')
    expect(versionError(() => nextVersion(v2, { id: 'other' })).reason).toBe('different-flow')
    const signed = { ...v2, signature: { alg: 'EdDSA' as const, signer: 'squid:x', value: 'AA', hash: flowHash(v2) } }
    expect(nextVersion(signed).signature).toBeUndefined()
  })

  it('diffFlows lists changed fields and added, removed, changed and moved steps', () => {
    const a = flowWith([logStep('a'), logStep('b'), logStep('c'), logStep('d')], { description: 'old', metadata: { tags: ['x'] } })
    const b = flowWith([logStep('b'), logStep('a', { timeout: 500 }), logStep('c'), logStep('e')], { description: 'new', inputSchema: { type: 'object' } })
    const diff = diffFlows(a, b)
    expect(diff.equal).toBe(false)
    expect(diff.changedFields).toEqual([
      { pointer: '/description', kind: 'changed', before: 'old', after: 'new' },
      { pointer: '/metadata', kind: 'removed', before: { tags: ['x'] } },
      { pointer: '/inputSchema', kind: 'added', after: { type: 'object' } }
    ])
    expect(diff.addedSteps).toEqual(['e'])
    expect(diff.removedSteps).toEqual(['d'])
    expect(diff.changedSteps).toEqual([{ id: 'a', pointer: '/steps/1', changes: [{ pointer: '/steps/1/timeout', kind: 'added', after: 500 }] }])
    expect(diff.movedSteps).toEqual([{ id: 'b', from: 1, to: 0 }])
    expect(diffFlows(a, JSON.parse(JSON.stringify(a)) as Flow)).toEqual({ equal: true, changedFields: [], addedSteps: [], removedSteps: [], changedSteps: [], movedSteps: [] })
  })

  it('diffFlows compares values canonically (key order does not matter)', () => {
    const a = flowWith([logStep('a', { params: { message: 'x', level: 'info' } })])
    const b = flowWith([logStep('a', { params: { level: 'info', message: 'x' } })])
    expect(diffFlows(a, b).equal).toBe(true)
  })

  it('rollbackFlow makes a new head with old content, keeping history append-only', () => {
    const v2 = nextVersion(v1, { name: 'Order fulfilment (beta)' })
    const v3 = nextVersion(v2, { description: 'broken' })
    const history = [v1, v2, v3]
    expect(checkFlowHistory(history)).toEqual({ valid: true, problems: [] })
    const back = rollbackFlow(v1, v3)
    expect(back.version).toBe('2.3.1')
    expect(back.previousVersion).toBe(flowHash(v3))
    expect(sameFlowContent(back, v1)).toBe(true)
    expect(sameFlowContent(back, v3)).toBe(false)
    expect(diffFlows(v1, back).changedFields.map((c) => c.pointer)).toEqual(['/version', '/previousVersion'])
    expect(checkFlowHistory([...history, back]).valid).toBe(true)
    // by version or hash from the history
    const byVersion = rollbackFlow(history, '2.1.0')
    expect(byVersion).toEqual(back)
    expect(rollbackFlow(history, flowHash(v2), { bump: 'minor' })).toMatchObject({ version: '2.4.0', name: 'Order fulfilment (beta)' })
    expect(findFlowVersion(history, flowHash(v3))).toBe(v3)
    expect(versionError(() => rollbackFlow(history, '0.0.1')).reason).toBe('not-found')
    expect(versionError(() => rollbackFlow([], '1.0.0')).reason).toBe('empty-history')
    expect(versionError(() => rollbackFlow({ ...v1, id: 'other' }, v3)).reason).toBe('different-flow')
    expect(versionError(() => rollbackFlow(v1, v3, { version: '1.0.0' })).reason).toBe('version-not-increasing')
  })

  it('checkFlowHistory finds broken links, foreign flows and versions going backwards', () => {
    const v2 = nextVersion(v1)
    const forged = { ...nextVersion(v2), previousVersion: flowHash(v1) }
    const older = { ...nextVersion(v2), version: '1.0.0' }
    const foreign = { ...nextVersion(v2), id: 'someone-else' }
    expect(checkFlowHistory([v1, v2, forged]).problems.map((p) => [p.index, p.code])).toEqual([[2, 'broken-chain']])
    expect(checkFlowHistory([v1, v2, older]).problems.map((p) => p.code)).toEqual(['version-not-increasing'])
    expect(checkFlowHistory([v1, v2, foreign]).problems.map((p) => p.code)).toEqual(['different-flow'])
  })
})
