import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileConditions } from '../src/conditions.js'
import { cidrContains, parseCidr, parseIpAddress } from '../src/ip.js'

function pathOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    expect((err as Error).name).toBe('InvalidGrantError')
    return (err as { path: string }).path
  }
  return undefined
}

const NOON = Date.parse('2026-03-02T12:00:00Z')

describe('IP addresses and CIDR blocks', () => {
  it('parses IPv4 and IPv6, mapping IPv4-mapped IPv6 to IPv4', () => {
    expect([...(parseIpAddress('10.1.2.3') as Uint8Array)]).toEqual([10, 1, 2, 3])
    expect(parseIpAddress('::1')?.length).toBe(16)
    expect([...(parseIpAddress('::ffff:192.168.0.1') as Uint8Array)]).toEqual([192, 168, 0, 1])
    expect([...(parseIpAddress('2001:db8::1') as Uint8Array)]).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    expect(parseIpAddress('1:2:3:4:5:6:1.2.3.4')?.length).toBe(16)
  })

  it.each(['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-4', '::1::', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0', 'g::1', ':1:2:3:4:5:6:7', '1.2.3.4 ', 42, null])(
    'refuses %j',
    (text) => {
      expect(parseIpAddress(text)).toBeUndefined()
    }
  )

  it('tests membership by prefix bits', () => {
    const block = parseCidr('10.0.0.0/8')!
    expect(cidrContains(block, parseIpAddress('10.255.0.1')!)).toBe(true)
    expect(cidrContains(block, parseIpAddress('11.0.0.1')!)).toBe(false)
    const odd = parseCidr('192.168.1.128/25')!
    expect(cidrContains(odd, parseIpAddress('192.168.1.200')!)).toBe(true)
    expect(cidrContains(odd, parseIpAddress('192.168.1.127')!)).toBe(false)
    const v6 = parseCidr('2001:db8::/32')!
    expect(cidrContains(v6, parseIpAddress('2001:db8:ffff::1')!)).toBe(true)
    expect(cidrContains(v6, parseIpAddress('10.0.0.1')!)).toBe(false)
    expect(parseCidr('10.0.0.0/33')).toBeUndefined()
    expect(parseCidr('10.0.0.0/08')).toBeUndefined()
    expect(parseCidr('0.0.0.0/0')?.prefix).toBe(0)
  })

  it('never throws on random text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        parseIpAddress(text)
        parseCidr(text)
      }),
      { numRuns: 1_000 }
    )
  })
})

describe('grant conditions', () => {
  it('tests the subnet', () => {
    const one = compileConditions({ subnet: 'dao-a' })
    expect(one.firstFailing({ subnet: 'dao-a' }, NOON)).toBeUndefined()
    expect(one.firstFailing({ subnet: 'dao-b' }, NOON)).toBe('subnet')
    expect(one.firstFailing(undefined, NOON)).toBe('subnet')
    const many = compileConditions({ subnet: ['dao-a', 'dao-b'] })
    expect(many.firstFailing({ subnet: 'dao-b' }, NOON)).toBeUndefined()
    expect(many.firstFailing({ subnet: 7 }, NOON)).toBe('subnet')
  })

  it('tests an absolute time window, ends open or ISO', () => {
    const window = compileConditions({ timeWindow: { from: '2026-03-01T00:00:00Z', to: NOON } })
    expect(window.firstFailing({}, NOON - 1)).toBeUndefined()
    expect(window.firstFailing({}, NOON)).toBe('timeWindow')
    expect(window.firstFailing({}, Date.parse('2026-02-28T23:59:59Z'))).toBe('timeWindow')
    expect(compileConditions({ timeWindow: { from: NOON } }).firstFailing({}, NOON + 1e9)).toBeUndefined()
  })

  it('tests a daily window, wrapping midnight and shifted by an offset', () => {
    const office = compileConditions({ dailyWindow: { from: '09:00', to: '17:00' } })
    expect(office.firstFailing({}, NOON)).toBeUndefined()
    expect(office.firstFailing({}, Date.parse('2026-03-02T17:00:00Z'))).toBe('dailyWindow')
    const night = compileConditions({ dailyWindow: { from: '22:00', to: '06:00' } })
    expect(night.firstFailing({}, Date.parse('2026-03-02T23:30:00Z'))).toBeUndefined()
    expect(night.firstFailing({}, Date.parse('2026-03-02T05:59:00Z'))).toBeUndefined()
    expect(night.firstFailing({}, NOON)).toBe('dailyWindow')
    // 12:00 UTC is 21:00 at UTC+9.
    const tokyo = compileConditions({ dailyWindow: { from: '20:00', to: '22:00', utcOffsetMinutes: 540 } })
    expect(tokyo.firstFailing({}, NOON)).toBeUndefined()
  })

  it('tests the client address against CIDR blocks', () => {
    const lan = compileConditions({ ipCidr: ['10.0.0.0/8', '2001:db8::/32'] })
    expect(lan.firstFailing({ clientIp: '10.2.3.4' }, NOON)).toBeUndefined()
    expect(lan.firstFailing({ clientIp: '::ffff:10.2.3.4' }, NOON)).toBeUndefined()
    expect(lan.firstFailing({ clientIp: '2001:db8::7' }, NOON)).toBeUndefined()
    expect(lan.firstFailing({ clientIp: '192.168.0.1' }, NOON)).toBe('ipCidr')
    expect(lan.firstFailing({ clientIp: 'not an address' }, NOON)).toBe('ipCidr')
    expect(lan.firstFailing({}, NOON)).toBe('ipCidr')
  })

  it('tests the operation kind and named facts, own properties only', () => {
    const conditions = compileConditions({ kind: ['exec.step', 'exec.start'], match: { daoContext: 'dao-1', tier: [1, 2], beta: true } })
    expect(conditions.firstFailing({ kind: 'exec.step', daoContext: 'dao-1', tier: 2, beta: true }, NOON)).toBeUndefined()
    expect(conditions.firstFailing({ kind: 'flow.create', daoContext: 'dao-1', tier: 2, beta: true }, NOON)).toBe('kind')
    expect(conditions.firstFailing({ kind: 'exec.step', daoContext: 'dao-1', tier: 3, beta: true }, NOON)).toBe('match')
    const inherited = Object.create({ daoContext: 'dao-1' }) as Record<string, unknown>
    expect(compileConditions({ match: { daoContext: 'dao-1' } }).firstFailing(inherited, NOON)).toBe('match')
    expect(compileConditions({ match: { constructor: 'x' } }).firstFailing({}, NOON)).toBe('match')
  })

  it('ANDs conditions, reporting the first that fails', () => {
    const both = compileConditions({ subnet: 'dao-a', ipCidr: '10.0.0.0/8' })
    expect(both.firstFailing({ subnet: 'dao-a', clientIp: '10.0.0.1' }, NOON)).toBeUndefined()
    expect(both.firstFailing({ subnet: 'dao-a', clientIp: '11.0.0.1' }, NOON)).toBe('ipCidr')
  })

  it.each([
    [[], '/conditions'],
    [null, '/conditions'],
    [{ subnet: '' }, '/conditions/subnet'],
    [{ subnet: [] }, '/conditions/subnet'],
    [{ subnet: ['a', 3] }, '/conditions/subnet/1'],
    [{ script: 'return true' }, '/conditions/script'],
    [{ timeWindow: {} }, '/conditions/timeWindow'],
    [{ timeWindow: { from: 'yesterday' } }, '/conditions/timeWindow/from'],
    [{ timeWindow: { from: '2026-01-01' } }, '/conditions/timeWindow/from'],
    [{ timeWindow: { from: 5, to: 5 } }, '/conditions/timeWindow/to'],
    [{ timeWindow: { from: 1, until: 5 } }, '/conditions/timeWindow/until'],
    [{ dailyWindow: { from: '9:00', to: '17:00' } }, '/conditions/dailyWindow/from'],
    [{ dailyWindow: { from: '09:00', to: '24:00' } }, '/conditions/dailyWindow/to'],
    [{ dailyWindow: { from: '09:00', to: '09:00' } }, '/conditions/dailyWindow/to'],
    [{ dailyWindow: { from: '09:00', to: '10:00', utcOffsetMinutes: 900 } }, '/conditions/dailyWindow/utcOffsetMinutes'],
    [{ ipCidr: ['10.0.0.0/8', '10.0.0.0/99'] }, '/conditions/ipCidr/1'],
    [{ kind: 'x'.repeat(257) }, '/conditions/kind'],
    [{ match: {} }, '/conditions/match'],
    [{ match: { 'a/b': 'x' } }, '/conditions/match/a~1b'],
    [{ match: { __proto__: 'x' } }, '/conditions/match'],
    [{ match: { tier: { $gt: 1 } } }, '/conditions/match/tier'],
    [{ match: { tier: Number.NaN } }, '/conditions/match/tier'],
    [{ subnet: Array.from({ length: 65 }, (_, i) => `s${i}`) }, '/conditions/subnet']
  ])('rejects %j at %s', (conditions, path) => {
    expect(pathOf(() => compileConditions(conditions))).toBe(path)
  })

  it('rejects a __proto__ fact name', () => {
    expect(pathOf(() => compileConditions(JSON.parse('{"match":{"__proto__":"x"}}')))).toBe('/conditions/match/__proto__')
  })

  it('never throws on hostile contexts', () => {
    const conditions = compileConditions({ subnet: 'dao-a', ipCidr: '10.0.0.0/8', kind: 'k', match: { a: 1 } })
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.anything()), (context) => {
        expect(typeof (conditions.firstFailing(context, NOON) ?? 'ok')).toBe('string')
      }),
      { numRuns: 300 }
    )
  })
})
