const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Whether `value` holds a UTF-16 surrogate without its pair (which has no canonical JSON form). */
export function hasLoneSurrogate(value: string): boolean {
  return LONE_SURROGATE.test(value)
}

/** Cuts `value` to `max` characters, marking the cut with `…`. */
export function truncate(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max)}…`
}

/** Escapes one JSON pointer token (RFC 6901). */
export function pointerToken(key: string | number): string {
  return String(key).replaceAll('~', '~0').replaceAll('/', '~1')
}
