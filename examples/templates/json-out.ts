// JSON output with correct escaping (assemblyscript-json 1.1.0 writes control characters as a
// backslash followed by the raw character, and object keys unescaped: both invalid JSON).
import { Host } from '@extism/as-pdk'
import { JSON } from 'assemblyscript-json/assembly'

const HEX = '0123456789abcdef'

/** A JSON string literal of `s`. */
export function quote(s: string): string {
  let out = '"'
  let start = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c != 0x22 && c != 0x5c && c >= 0x20) continue
    out += s.substring(start, i)
    if (c == 0x22) out += '\\"'
    else if (c == 0x5c) out += '\\\\'
    else if (c == 0x0a) out += '\\n'
    else if (c == 0x0d) out += '\\r'
    else if (c == 0x09) out += '\\t'
    else out += '\\u00' + HEX.charAt(c >> 4) + HEX.charAt(c & 0xf)
    start = i + 1
  }
  return out + s.substring(start) + '"'
}

/** JSON text of a parsed value. */
export function stringify(value: JSON.Value): string {
  if (value.isString) return quote((<JSON.Str>value).valueOf())
  if (value.isArr) {
    const items = (<JSON.Arr>value).valueOf()
    const parts = new Array<string>(items.length)
    for (let i = 0; i < items.length; i++) parts[i] = stringify(items[i])
    return '[' + parts.join(',') + ']'
  }
  if (value.isObj) {
    const obj = <JSON.Obj>value
    const keys = obj.keys
    const parts = new Array<string>(keys.length)
    for (let i = 0; i < keys.length; i++) parts[i] = quote(keys[i]) + ':' + stringify(<JSON.Value>obj.get(keys[i]))
    return '{' + parts.join(',') + '}'
  }
  return value.stringify()
}

/**
 * Sets the call's output to the UTF-8 bytes of `s`. (The PDK's `Host.outputString` sizes its
 * buffer by UTF-16 code units, so any non-ASCII text overruns it and the call traps.)
 */
export function outputText(s: string): void {
  Host.output(Uint8Array.wrap(String.UTF8.encode(s)))
}
