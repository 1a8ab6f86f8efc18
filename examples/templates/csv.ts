// CSV parser (RFC 4180): the first row names the columns; output is a JSON array of objects whose
// values are strings. Quoted fields may hold delimiters, quotes ("") and line breaks; CRLF or LF
// rows. The delimiter is a comma unless the call's Extism config sets `delimiter` (one character,
// e.g. ";" or a tab): `config: { delimiter: ";" }` on a wasm.run step.
import { Config, Host } from '@extism/as-pdk'
import { JSON } from 'assemblyscript-json/assembly'
import { fail } from './abort'
import { outputText, stringify } from './json-out'
export { templateAbort } from './abort'

export function parse(): i32 {
  let delimiter = 44
  const configured = Config.get('delimiter')
  if (configured !== null) {
    const d = configured.charCodeAt(0)
    if (configured.length != 1 || d == 34 || d == 10 || d == 13) return fail('config delimiter must be one character, not a quote or a line break')
    delimiter = d
  }
  const text = Host.inputString()
  const rows: Array<Array<string>> = []
  let row: string[] = []
  let field = ''
  let quoted = false
  let i = 0
  const n = text.length
  while (i < n) {
    const c = text.charCodeAt(i)
    if (quoted) {
      if (c == 34) {
        if (i + 1 < n && text.charCodeAt(i + 1) == 34) {
          field += '"'
          i += 2
          continue
        }
        quoted = false
      } else {
        field += String.fromCharCode(c)
      }
      i++
      continue
    }
    if (c == 34) {
      if (field.length != 0) return fail('line ' + (rows.length + 1).toString() + ': quote inside an unquoted field')
      quoted = true
    } else if (c == delimiter) {
      row.push(field)
      field = ''
    } else if (c == 10 || c == 13) {
      if (c == 13 && i + 1 < n && text.charCodeAt(i + 1) == 10) i++
      row.push(field)
      rows.push(row)
      row = []
      field = ''
    } else {
      field += String.fromCharCode(c)
    }
    i++
  }
  if (quoted) return fail('unterminated quoted field')
  if (field.length != 0 || row.length != 0) {
    row.push(field)
    rows.push(row)
  }
  if (rows.length == 0) return fail('no header row')
  const header = rows[0]
  const out = new JSON.Arr()
  for (let r = 1; r < rows.length; r++) {
    const cells = rows[r]
    if (cells.length != header.length) {
      return fail('line ' + (r + 1).toString() + ': ' + cells.length.toString() + ' fields, header has ' + header.length.toString())
    }
    const obj = new JSON.Obj()
    for (let k = 0; k < header.length; k++) obj.set(header[k], new JSON.Str(cells[k]))
    out.push(obj)
  }
  outputText(stringify(out))
  return 0
}
