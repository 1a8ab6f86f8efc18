// JSON transform: picks fields of an object and renames them.
// Input: {"data": {...}, "pick": ["a", "b"], "rename": {"a": "x"}}. Output: the new object.
// Without "pick" every field is kept; "rename" maps old names to new ones.
import { Host } from '@extism/as-pdk'
import { JSON } from 'assemblyscript-json/assembly'
import { fail } from './abort'
import { outputText, stringify } from './json-out'
export { templateAbort } from './abort'

export function transform(): i32 {
  const parsed = JSON.parse(Host.inputString())
  if (!parsed.isObj) return fail('input must be an object')
  const input = <JSON.Obj>parsed
  const data = input.getObj('data')
  if (data === null) return fail('input.data must be an object')
  let names: string[] = data.keys
  const pick = input.getArr('pick')
  if (pick !== null) {
    names = []
    const items = pick.valueOf()
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      if (!item.isString) return fail('input.pick[' + i.toString() + '] must be a string')
      names.push((<JSON.Str>item).valueOf())
    }
  }
  const rename = input.getObj('rename')
  const out = new JSON.Obj()
  for (let i = 0; i < names.length; i++) {
    const name = names[i]
    const value = data.get(name)
    if (value === null) continue
    let target = name
    if (rename !== null) {
      const renamed = rename.getString(name)
      if (renamed !== null) target = renamed.valueOf()
    }
    out.set(target, value)
  }
  outputText(stringify(out))
  return 0
}
