// Validation of an object against rules.
// Input: {"value": {...}, "rules": [{"field": "age", "required": true, "type": "number", "min": 0, "max": 150},
//   {"field": "name", "type": "string", "minLength": 1, "maxLength": 40}]}
// Output: {"valid": true|false, "errors": [{"field": "...", "message": "..."}]}
import { Host } from '@extism/as-pdk'
import { JSON } from 'assemblyscript-json/assembly'
import { fail } from './abort'
import { outputText, stringify } from './json-out'
export { templateAbort } from './abort'

function numberOf(value: JSON.Value): f64 {
  if (value.isInteger) return <f64>(<JSON.Integer>value).valueOf()
  return (<JSON.Num>value).valueOf()
}

function typeOf(value: JSON.Value): string {
  if (value.isString) return 'string'
  if (value.isNum || value.isInteger) return 'number'
  if (value.isBool) return 'boolean'
  if (value.isNull) return 'null'
  if (value.isArr) return 'array'
  return 'object'
}

function error(field: string, message: string): JSON.Obj {
  const e = new JSON.Obj()
  e.set('field', field)
  e.set('message', message)
  return e
}

export function validate(): i32 {
  const parsed = JSON.parse(Host.inputString())
  if (!parsed.isObj) return fail('input must be an object')
  const input = <JSON.Obj>parsed
  const value = input.getObj('value')
  if (value === null) return fail('input.value must be an object')
  const rules = input.getArr('rules')
  if (rules === null) return fail('input.rules must be an array')
  const errors = new JSON.Arr()
  const list = rules.valueOf()
  for (let i = 0; i < list.length; i++) {
    if (!list[i].isObj) return fail('input.rules[' + i.toString() + '] must be an object')
    const rule = <JSON.Obj>list[i]
    const fieldValue = rule.getString('field')
    if (fieldValue === null) return fail('input.rules[' + i.toString() + '].field must be a string')
    const field = fieldValue.valueOf()
    const actual = value.get(field)
    const required = rule.getBool('required')
    if (actual === null) {
      if (required !== null && required.valueOf()) errors.push(error(field, 'is required'))
      continue
    }
    const type = rule.getString('type')
    if (type !== null && type.valueOf() != typeOf(actual)) {
      errors.push(error(field, 'must be a ' + type.valueOf()))
      continue
    }
    const min = rule.get('min')
    if (min !== null && (actual.isNum || actual.isInteger) && numberOf(actual) < numberOf(min)) {
      errors.push(error(field, 'must be >= ' + min.stringify()))
    }
    const max = rule.get('max')
    if (max !== null && (actual.isNum || actual.isInteger) && numberOf(actual) > numberOf(max)) {
      errors.push(error(field, 'must be <= ' + max.stringify()))
    }
    if (actual.isString) {
      const length = <f64>(<JSON.Str>actual).valueOf().length
      const minLength = rule.get('minLength')
      if (minLength !== null && length < numberOf(minLength)) errors.push(error(field, 'must have at least ' + minLength.stringify() + ' characters'))
      const maxLength = rule.get('maxLength')
      if (maxLength !== null && length > numberOf(maxLength)) errors.push(error(field, 'must have at most ' + maxLength.stringify() + ' characters'))
    }
  }
  const out = new JSON.Obj()
  out.set('valid', errors.valueOf().length == 0)
  out.set('errors', errors)
  outputText(stringify(out))
  return 0
}
