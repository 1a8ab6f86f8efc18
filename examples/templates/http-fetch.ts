// Outbound HTTP through Extism's http_request: the host sends it only to the hosts the manifest's
// `allowedHosts` list (and the allow-list approves), with the same private-network guard as the
// http.request action. Any other host fails the call (SandboxHostNotAllowedError).
// Input: {"url": "https://api.example.org/x", "method"?: "POST", "headers"?: {...}, "body"?: "text"}.
// Output: {"status": 200, "body": "<the response body as text>"}.
import { Host, Memory } from '@extism/as-pdk'
import { length } from '@extism/as-pdk/lib/env'
import { JSON } from 'assemblyscript-json/assembly'
import { fail } from './abort'
import { outputText, quote, stringify } from './json-out'
export { templateAbort } from './abort'

@external('extism:host/env', 'http_request')
declare function http_request(request: u64, body: u64): u64

@external('extism:host/env', 'http_status_code')
declare function http_status_code(): i32

export function fetch(): i32 {
  const parsed = JSON.parse(Host.inputString())
  if (!parsed.isObj) return fail('input must be an object')
  const input = <JSON.Obj>parsed
  const url = input.getString('url')
  if (url === null) return fail('input.url must be a string')
  let request = '{"url":' + quote(url.valueOf())
  const method = input.getString('method')
  if (method !== null) request += ',"method":' + quote(method.valueOf())
  const headers = input.getObj('headers')
  if (headers !== null) request += ',"headers":' + stringify(headers)
  request += '}'
  const body = input.getString('body')
  const bodyOffset: u64 = body === null ? 0 : Memory.allocateString(body.valueOf()).offset
  const response = http_request(Memory.allocateString(request).offset, bodyOffset)
  const status = http_status_code()
  const text = response == 0 ? '' : new Memory(response, length(response)).toString()
  outputText('{"status":' + status.toString() + ',"body":' + quote(text) + '}')
  return 0
}
