import { afterEach, describe, expect, it } from 'vitest'
import { type Sandbox, wasmRunAction } from '../src/index.js'
import { createTestEnv, flowOf, type TestEnv } from '../../scheduler/test/fixtures/env.js'
import { startSandbox } from './fixtures/templates.js'

describe('wasm.run through the engine', () => {
  let env: TestEnv | undefined
  let box: Sandbox | undefined
  afterEach(async () => {
    await env?.close()
    await box?.stop()
    env = undefined
    box = undefined
  })

  it('a flow step runs a template and the next step reads its output', async () => {
    const started = await startSandbox(['json-transform', 'validate', 'sha256'], { limits: { fuel: 1e12 } })
    box = started.box
    env = await createTestEnv({ actions: [wasmRunAction(box) as never] })
    const e = env
    const actor = async () => ({ actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const flow = flowOf(
      'signup',
      [
        {
          id: 'check',
          type: 'task',
          action: 'wasm.run',
          params: {
            module: 'validate@1.0.0',
            input: { value: '{{ input }}', rules: [{ field: 'email', type: 'string', required: true }, { field: 'age', type: 'number', min: 18 }] }
          }
        },
        {
          id: 'public',
          type: 'task',
          action: 'wasm.run',
          params: { module: 'json-transform@1.0.0', function: 'transform', input: { data: '{{ input }}', pick: ['email', 'age'], rename: { email: 'contact' } } }
        },
        { id: 'digest', type: 'task', action: 'wasm.run', params: { module: started.templates.sha256!.manifest.module, input: '{{ input.email }}' } }
      ],
      e.user.did
    )
    await e.engine.createFlow(flow, await actor())
    const result = await e.engine.run('signup', { email: 'ada@example.org', age: 36, password: 'x' }, await actor())
    expect(result).toMatchObject({ status: 'completed' })
    const state = await e.engine.state(result.executionId)
    expect(state.steps.check?.output).toEqual({ valid: true, errors: [] })
    expect(state.steps.public?.output).toEqual({ contact: 'ada@example.org', age: 36 })
    const { createHash } = await import('node:crypto')
    expect(state.steps.digest?.output).toBe(createHash('sha256').update('ada@example.org').digest('hex'))
    expect((await e.store.verifyExecution(result.executionId)).ok).toBe(true)
  })

  it('a failing template fails the step with the typed error, and the next execution succeeds', async () => {
    const started = await startSandbox(['json-transform', 'spin'], { limits: { fuel: 1_000_000 } })
    box = started.box
    env = await createTestEnv({ actions: [wasmRunAction(box) as never] })
    const e = env
    const actor = async () => ({ actor: { did: e.user.did, credentials: { token: await e.token() } } })
    await e.engine.createFlow(flowOf('burn', [{ id: 'spin', type: 'task', action: 'wasm.run', params: { module: 'spin@0.0.1' }, retryPolicy: { maxAttempts: 1 } }], e.user.did), await actor())
    const failed = await e.engine.run('burn', null, await actor())
    expect(failed).toMatchObject({ status: 'failed', error: { name: 'SandboxFuelExhaustedError', stepId: 'spin' } })
    await e.engine.createFlow(
      flowOf('pick', [{ id: 't', type: 'task', action: 'wasm.run', params: { module: 'json-transform@1.0.0', input: { data: '{{ input }}', pick: ['a'] } } }], e.user.did),
      await actor()
    )
    const ok = await e.engine.run('pick', { a: 1, b: 2 }, await actor())
    expect(ok.status).toBe('completed')
    expect((await e.engine.state(ok.executionId)).steps.t?.output).toEqual({ a: 1 })
  })

  it('a step timeout stops a runaway template (its worker is killed) and the sandbox keeps serving', async () => {
    const started = await startSandbox(['echo', 'spin'], { limits: { fuel: 1e12, timeoutMs: 60_000 } })
    box = started.box
    env = await createTestEnv({ actions: [wasmRunAction(box) as never] })
    const e = env
    const actor = async () => ({ actor: { did: e.user.did, credentials: { token: await e.token() } } })
    await e.engine.createFlow(
      flowOf('runaway', [{ id: 'spin', type: 'task', action: 'wasm.run', params: { module: 'spin@0.0.1' }, timeout: 200, retryPolicy: { maxAttempts: 1 } }], e.user.did),
      await actor()
    )
    const failed = await e.engine.run('runaway', null, await actor())
    expect(failed).toMatchObject({ status: 'failed', error: { stepId: 'spin' } })
    expect(box.metrics().outcomes.SandboxCallAbortedError).toBe(1)
    const { output } = await box.call('echo@1.0.0', 'echo', 'after')
    expect(new TextDecoder().decode(output)).toBe('after')
  })

  it('an unapproved module fails the step with TemplateNotApprovedError', async () => {
    const started = await startSandbox(['echo'])
    box = started.box
    env = await createTestEnv({ actions: [wasmRunAction(box) as never] })
    const e = env
    const actor = async () => ({ actor: { did: e.user.did, credentials: { token: await e.token() } } })
    await e.engine.createFlow(
      flowOf('rogue', [{ id: 'r', type: 'task', action: 'wasm.run', params: { module: 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku', function: 'run' } }], e.user.did),
      await actor()
    )
    const failed = await e.engine.run('rogue', null, await actor())
    expect(failed).toMatchObject({ status: 'failed', error: { name: 'TemplateNotApprovedError', stepId: 'r' } })
  })

  it("a step's config reaches the template for that step only, and a bad config fails the step by name", async () => {
    const started = await startSandbox(['csv'], { poolSize: 1 })
    box = started.box
    env = await createTestEnv({ actions: [wasmRunAction(box) as never] })
    const e = env
    const actor = async () => ({ actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const flow = flowOf(
      'imports',
      [
        { id: 'semicolons', type: 'task', action: 'wasm.run', params: { module: 'csv@1.0.0', input: '{{ input.eu }}', config: { delimiter: ';' } } },
        { id: 'commas', type: 'task', action: 'wasm.run', params: { module: 'csv@1.0.0', input: '{{ input.us }}' } }
      ],
      e.user.did
    )
    await e.engine.createFlow(flow, await actor())
    const result = await e.engine.run('imports', { eu: 'sku;price\nA-1;3,50\n', us: 'sku,price\nA-1,3.50\n' }, await actor())
    expect(result.status).toBe('completed')
    const state = await e.engine.state(result.executionId)
    expect(state.steps.semicolons?.output).toEqual([{ sku: 'A-1', price: '3,50' }])
    expect(state.steps.commas?.output).toEqual([{ sku: 'A-1', price: '3.50' }])
    await e.engine.createFlow(
      flowOf('bad-config', [{ id: 'c', type: 'task', action: 'wasm.run', params: { module: 'csv@1.0.0', input: 'a\n1\n', config: { delimiter: '' } }, retryPolicy: { maxAttempts: 1 } }], e.user.did),
      await actor()
    )
    const failed = await e.engine.run('bad-config', null, await actor())
    expect(failed).toMatchObject({ status: 'failed', error: { name: 'SandboxConfigError', stepId: 'c' } })
  })
})
