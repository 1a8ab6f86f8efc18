import { FlowParseError, FlowValidationError } from '@qflow/flow-schema'
import { PipelineHaltedError } from '@qflow/pipeline'
import { UnknownExecutionError } from '@qflow/scheduler'
import { describe, expect, it } from 'vitest'
import { errorEnvelope, ok, toApiError } from '../../src/server/envelope.js'
import { ApiError, RateLimitedError, UnauthenticatedError } from '../../src/server/errors.js'

const request = { id: 'req-1' }

describe('envelope', () => {
  it('wraps data in the success envelope with the request id and an ISO time', () => {
    const body = ok(request, { a: 1 })
    expect(body).toEqual({ success: true, data: { a: 1 }, timestamp: expect.any(String), requestId: 'req-1' })
    expect(new Date(body.timestamp).toISOString()).toBe(body.timestamp)
  })

  it('answers errors as {success:false, error:{code, message, details}}', () => {
    expect(errorEnvelope(request, new ApiError(418, 'TEAPOT', 'short and stout', { spout: true }))).toEqual({
      success: false,
      error: { code: 'TEAPOT', message: 'short and stout', details: { spout: true } },
      timestamp: expect.any(String),
      requestId: 'req-1'
    })
    expect(errorEnvelope(request, new UnauthenticatedError()).error).not.toHaveProperty('details')
  })

  it('keeps an ApiError as it is and carries its headers', () => {
    const limited = new RateLimitedError(2.2)
    expect(toApiError(limited)).toBe(limited)
    expect(limited.headers).toEqual({ 'retry-after': '3' })
    expect(limited.name).toBe('RateLimitedError')
    expect(RateLimitedError.name).toBe('RateLimitedError')
  })

  it('maps domain errors by name to statuses and codes', () => {
    const invalid = toApiError(new FlowValidationError([{ pointer: '/steps/0/type', code: 'invalid-enum', message: 'bad type' }]))
    expect([invalid.statusCode, invalid.code]).toEqual([400, 'VALIDATION_FAILED'])
    expect(invalid.details).toEqual({ problems: [{ pointer: '/steps/0/type', code: 'invalid-enum', message: 'bad type' }] })

    const parse = toApiError(new FlowParseError('bad indentation', { line: 3, column: 2, format: 'yaml', code: 'syntax' }))
    expect([parse.statusCode, parse.code]).toEqual([400, 'VALIDATION_FAILED'])
    expect(parse.details).toEqual({ line: 3, column: 2, format: 'yaml', code: 'syntax' })

    const missing = toApiError(new UnknownExecutionError('exec-x'))
    expect([missing.statusCode, missing.code]).toEqual([404, 'NOT_FOUND'])
  })

  it('answers a pipeline consent denial 403 FORBIDDEN with the stage facts', () => {
    const halted = new PipelineHaltedError({
      stage: 'qonsent',
      code: 'CONSENT_DENIED',
      reason: 'no grant',
      trace: [],
      operation: { kind: 'flow.create', actor: { did: 'did:key:x' }, resource: 'qflow:flow:f', action: 'write' } as never
    })
    const mapped = toApiError(halted)
    expect([mapped.statusCode, mapped.code]).toEqual([403, 'FORBIDDEN'])
    expect(mapped.details).toMatchObject({ stage: 'qonsent', code: 'CONSENT_DENIED' })
  })

  it('maps fastify body errors and hides anything unknown behind 500 INTERNAL', () => {
    const large = toApiError(Object.assign(new Error('too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }))
    expect([large.statusCode, large.code]).toEqual([413, 'PAYLOAD_TOO_LARGE'])
    const media = toApiError(Object.assign(new Error('nope'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }))
    expect([media.statusCode, media.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE'])
    const internal = toApiError(new Error('secret path /etc/x'))
    expect([internal.statusCode, internal.code, internal.message]).toEqual([500, 'INTERNAL', 'internal error'])
    expect(toApiError(undefined).statusCode).toBe(500)
  })
})
