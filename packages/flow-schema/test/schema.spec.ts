import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { describe, expect, it } from 'vitest'
import { FLOW_SCHEMA_ID, flowSchema, loadFlow } from '../src/index.js'
import { fixture } from './fixtures/flows.js'

const root = fileURLToPath(new URL('..', import.meta.url))

describe('shipped JSON Schema', () => {
  it('is the file in schema/, exported by the package and listed in files', () => {
    const file = JSON.parse(readFileSync(`${root}schema/flow.schema.json`, 'utf8'))
    expect(flowSchema).toEqual(file)
    expect(FLOW_SCHEMA_ID).toBe('urn:qflow:schema:flow:1')
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'))
    expect(pkg.exports['./schema.json']).toBe('./schema/flow.schema.json')
    expect(pkg.files).toContain('schema')
  })

  it('is a valid draft 2020-12 schema that plain ajv accepts and that accepts the fixtures', () => {
    const ajv = new Ajv2020({ strict: false })
    expect(ajv.validateSchema(flowSchema)).toBe(true)
    const validate = ajv.compile(flowSchema)
    expect(validate(loadFlow(fixture('order-flow.yaml')))).toBe(true)
    expect(validate(JSON.parse(fixture('legacy-flow.json')))).toBe(true)
  })

  it('lists the common step members in every step variant (steps reject unknown members)', () => {
    const defs = (flowSchema as { $defs: Record<string, { properties?: Record<string, unknown>; additionalProperties?: unknown }> }).$defs
    const common = ['id', 'type', 'name', 'description', 'action', 'params', 'onSuccess', 'onFailure', 'timeout', 'retryPolicy', 'resourceLimits', 'outputSchema']
    for (const variant of ['taskStep', 'conditionStep', 'parallelStep', 'eventTriggerStep', 'moduleCallStep', 'subFlowStep']) {
      const def = defs[variant]
      expect(def?.additionalProperties, variant).toBe(false)
      for (const member of common) expect(Object.keys(def?.properties ?? {}), `${variant}.${member}`).toContain(member)
    }
  })
})
