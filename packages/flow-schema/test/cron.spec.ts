import { describe, expect, it } from 'vitest'
import { type CronParseError, parseCron } from '../src/index.js'

function cronError(expression: string): CronParseError {
  try {
    parseCron(expression)
  } catch (err) {
    expect((err as Error).name).toBe('CronParseError')
    return err as CronParseError
  }
  throw new Error(`expected ${expression} to be refused`)
}

describe('parseCron', () => {
  it('expands values, ranges, lists, steps and names', () => {
    const c = parseCron('*/15 9-17 * JAN,jul mon-fri')
    expect(c.seconds).toEqual([0])
    expect(c.minutes).toEqual([0, 15, 30, 45])
    expect(c.hours).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17])
    expect(c.daysOfMonth).toHaveLength(31)
    expect(c.months).toEqual([1, 7])
    expect(c.daysOfWeek).toEqual([1, 2, 3, 4, 5])
    expect(c.daysOfMonthRestricted).toBe(false)
    expect(c.daysOfWeekRestricted).toBe(true)
  })

  it('reads six fields with seconds first, a/n steps, 7 as Sunday and ? in day fields', () => {
    const c = parseCron('30 0 12 ? * 7')
    expect(c.seconds).toEqual([30])
    expect(c.daysOfWeek).toEqual([0])
    expect(c.daysOfMonthRestricted).toBe(false)
    expect(parseCron('5/20 * * * *').minutes).toEqual([5, 25, 45])
    expect(parseCron('0 0 1-10/3 * *').daysOfMonth).toEqual([1, 4, 7, 10])
  })

  it('knows the shorthands', () => {
    expect(parseCron('@hourly').minutes).toEqual([0])
    expect(parseCron('@weekly').daysOfWeek).toEqual([0])
    expect(parseCron('@yearly').months).toEqual([1])
  })

  it('refuses malformed and out-of-range fields, naming the field', () => {
    expect(cronError('60 * * * *').field).toBe('minute')
    expect(cronError('* 24 * * *').field).toBe('hour')
    expect(cronError('* * 0 * *').field).toBe('day-of-month')
    expect(cronError('* * * 13 * ').field).toBe('month')
    expect(cronError('* * * * 8').field).toBe('day-of-week')
    expect(cronError('* * * FOO *').field).toBe('month')
    expect(cronError('5-1 * * * *').message).toMatch(/backwards/)
    expect(cronError('*/0 * * * *').message).toMatch(/step/)
    expect(cronError('*/61 * * * *').message).toMatch(/larger than/)
    expect(cronError('1,,2 * * * *').message).toMatch(/empty/)
    expect(cronError('? * * * *').field).toBe('minute')
    expect(cronError('* * * *').message).toMatch(/5 or 6 fields/)
    expect(cronError('* * * * * * *').message).toMatch(/5 or 6 fields/)
    expect(cronError('@sometimes').message).toMatch(/shorthand/)
    expect(cronError('0 0 30 2 *').message).toMatch(/never fires/)
    expect(cronError('L * * * *').field).toBe('minute')
  })
})
