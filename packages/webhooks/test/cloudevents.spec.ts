import { describe, expect, it } from 'vitest'
import { cloudEventMode, parseCloudEvent, validateCloudEvent } from '../src/index.js'

const event = {
  specversion: '1.0',
  id: 'A234-1234-1234',
  source: 'https://github.com/cloudevents/spec/pull',
  type: 'com.github.pull_request.opened',
  subject: '123',
  time: '2018-04-05T17:31:00Z',
  comexampleextension1: 'value',
  comexampleothervalue: 5,
  datacontenttype: 'application/json',
  data: { appinfoA: 'abc', appinfoB: 123, appinfoC: true }
}

describe('CloudEvents', () => {
  it('tells the modes apart', () => {
    expect(cloudEventMode({ 'content-type': 'application/cloudevents+json; charset=utf-8' })).toBe('structured')
    expect(cloudEventMode({ 'content-type': 'application/cloudevents-batch+json' })).toBe('batch')
    expect(cloudEventMode({ 'ce-specversion': '1.0', 'content-type': 'application/json' })).toBe('binary')
    expect(cloudEventMode({ 'content-type': 'application/json' })).toBeUndefined()
  })

  it('reads structured mode', () => {
    const parsed = parseCloudEvent({ 'content-type': 'application/cloudevents+json' }, JSON.stringify(event))
    expect(parsed).toEqual(event)
  })

  it('reads binary mode into the same structured form', () => {
    const headers = {
      'ce-specversion': '1.0',
      'ce-id': event.id,
      'ce-source': event.source,
      'ce-type': event.type,
      'ce-subject': event.subject,
      'ce-time': event.time,
      'ce-comexampleextension1': 'value',
      'content-type': 'application/json',
      'x-other': 'ignored'
    }
    const parsed = parseCloudEvent(headers, JSON.stringify(event.data))
    expect(parsed).toEqual({ ...event, comexampleothervalue: undefined, data: event.data })
    expect(parsed?.comexampleothervalue).toBeUndefined()
  })

  it('percent-decodes binary header values and keeps text and binary data', () => {
    const base = { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't' }
    expect(parseCloudEvent({ ...base, 'ce-subject': 'Euro %E2%82%AC %F0%9F%98%80' }, '')).toEqual({
      specversion: '1.0',
      id: '1',
      source: '/s',
      type: 't',
      subject: 'Euro € 😀'
    })
    expect(parseCloudEvent({ ...base, 'content-type': 'text/plain' }, 'hello')?.data).toBe('hello')
    expect(parseCloudEvent({ ...base, 'content-type': 'application/octet-stream' }, new Uint8Array([0, 255, 1]))?.data_base64).toBe('AP8B')
    expect(() => parseCloudEvent({ ...base, 'ce-subject': '%E2%82' }, '')).toThrow(expect.objectContaining({ name: 'InvalidCloudEventError', attribute: 'subject' }))
  })

  it('reads binary mode from fetch Headers', () => {
    const headers = new Headers({ 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't', 'content-type': 'application/json' })
    expect(parseCloudEvent(headers, '{"n":1}')).toEqual({ specversion: '1.0', id: '1', source: '/s', type: 't', datacontenttype: 'application/json', data: { n: 1 } })
  })

  it('returns undefined for a request without a CloudEvent', () => {
    expect(parseCloudEvent({ 'content-type': 'application/json' }, '{}')).toBeUndefined()
  })

  it('names each missing or wrong required attribute', () => {
    for (const name of ['id', 'source', 'specversion', 'type']) {
      const copy: Record<string, unknown> = { ...event }
      delete copy[name]
      expect(() => validateCloudEvent(copy)).toThrow(expect.objectContaining({ name: 'InvalidCloudEventError', attribute: name }))
      expect(() => validateCloudEvent({ ...event, [name]: '' })).toThrow(expect.objectContaining({ name: 'InvalidCloudEventError', attribute: name }))
    }
    expect(() => validateCloudEvent({ ...event, specversion: '0.3' })).toThrow(expect.objectContaining({ attribute: 'specversion' }))
    expect(() => validateCloudEvent({ ...event, id: 42 })).toThrow(expect.objectContaining({ attribute: 'id' }))
  })

  it('checks optional attributes, extension names and data exclusivity', () => {
    expect(() => validateCloudEvent({ ...event, time: 'yesterday' })).toThrow(expect.objectContaining({ attribute: 'time' }))
    expect(() => validateCloudEvent({ ...event, dataschema: 'relative/path' })).toThrow(expect.objectContaining({ attribute: 'dataschema' }))
    expect(() => validateCloudEvent({ ...event, 'Bad-Name': 'x' })).toThrow(expect.objectContaining({ attribute: 'Bad-Name' }))
    expect(() => validateCloudEvent({ ...event, ext: { nested: true } })).toThrow(expect.objectContaining({ attribute: 'ext' }))
    expect(() => validateCloudEvent({ ...event, data_base64: 'AAAA' })).toThrow(expect.objectContaining({ attribute: 'data_base64' }))
    expect(validateCloudEvent({ ...event, subject: null })).not.toHaveProperty('subject')
  })

  it('refuses a structured body that is not a JSON object, batches, and ce-datacontenttype', () => {
    const structured = { 'content-type': 'application/cloudevents+json' }
    expect(() => parseCloudEvent(structured, '{not json')).toThrow(expect.objectContaining({ name: 'InvalidCloudEventError' }))
    expect(() => parseCloudEvent(structured, '[1,2]')).toThrow(expect.objectContaining({ name: 'InvalidCloudEventError' }))
    expect(() => parseCloudEvent({ 'content-type': 'application/cloudevents-batch+json' }, '[]')).toThrow(expect.objectContaining({ name: 'InvalidCloudEventError' }))
    expect(() => parseCloudEvent({ 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't', 'ce-datacontenttype': 'x' }, '')).toThrow(
      expect.objectContaining({ attribute: 'datacontenttype' })
    )
    expect(() => parseCloudEvent({ 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't', 'content-type': 'application/json' }, '{x')).toThrow(
      expect.objectContaining({ name: 'InvalidCloudEventError' })
    )
  })
})
