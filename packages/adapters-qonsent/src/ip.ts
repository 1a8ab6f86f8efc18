/** A parsed CIDR block. */
export interface CidrBlock {
  /** The network address bytes (4 for IPv4, 16 for IPv6). */
  readonly bytes: Uint8Array
  /** The prefix length in bits. */
  readonly prefix: number
}

const MAX_ADDRESS_LENGTH = 64

function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  const bytes = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const part = parts[i] as string
    if (part.length === 0 || part.length > 3) return undefined
    for (let j = 0; j < part.length; j++) {
      const c = part.charCodeAt(j)
      if (c < 48 || c > 57) return undefined
    }
    // No leading zeros: `010` is octal to some parsers and decimal to others.
    if (part.length > 1 && part[0] === '0') return undefined
    const n = Number(part)
    if (n > 255) return undefined
    bytes[i] = n
  }
  return bytes
}

function parseGroups(text: string): number[] | undefined {
  if (text === '') return []
  const groups: number[] = []
  for (const group of text.split(':')) {
    if (group.length === 0 || group.length > 4) return undefined
    let n = 0
    for (let j = 0; j < group.length; j++) {
      const c = group.charCodeAt(j)
      const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1
      if (digit < 0) return undefined
      n = n * 16 + digit
    }
    groups.push(n)
  }
  return groups
}

function parseIPv6(text: string): Uint8Array | undefined {
  let body = text
  let tail: Uint8Array | undefined
  const lastColon = body.lastIndexOf(':')
  if (lastColon >= 0 && body.indexOf('.', lastColon) > lastColon) {
    tail = parseIPv4(body.slice(lastColon + 1))
    if (tail === undefined) return undefined
    body = body.slice(0, lastColon + 1)
    // `::1.2.3.4` leaves `::`, `a::1.2.3.4` leaves `a::`, `a:b:...:1.2.3.4` leaves `...:`: drop a lone trailing colon.
    if (body.endsWith(':') && !body.endsWith('::')) body = body.slice(0, -1)
  }
  const tailGroups = tail === undefined ? 0 : 2
  const halves = body.split('::')
  if (halves.length > 2) return undefined
  const head = parseGroups(halves[0] as string)
  const rest = halves.length === 2 ? parseGroups(halves[1] as string) : []
  if (head === undefined || rest === undefined) return undefined
  const explicit = head.length + rest.length + tailGroups
  if (halves.length === 1 ? explicit !== 8 : explicit > 7) return undefined
  const groups = [...head, ...new Array<number>(8 - explicit).fill(0), ...rest]
  const bytes = new Uint8Array(16)
  for (let i = 0; i < groups.length; i++) {
    bytes[i * 2] = (groups[i] as number) >> 8
    bytes[i * 2 + 1] = (groups[i] as number) & 0xff
  }
  if (tail !== undefined) bytes.set(tail, 12)
  return bytes
}

/**
 * Parses an IPv4 or IPv6 address into its bytes; IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`)
 * come back as their 4 IPv4 bytes. Anything else (zone ids, garbage, over-long input) is
 * `undefined`, never an exception.
 */
export function parseIpAddress(text: unknown): Uint8Array | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_ADDRESS_LENGTH) return undefined
  if (!text.includes(':')) return parseIPv4(text)
  const bytes = parseIPv6(text)
  if (bytes === undefined) return undefined
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff
  return mapped ? bytes.slice(12) : bytes
}

/** Parses `address/prefix` (a bare address is a /32 or /128); `undefined` when malformed. */
export function parseCidr(text: unknown): CidrBlock | undefined {
  if (typeof text !== 'string') return undefined
  const slash = text.indexOf('/')
  const address = parseIpAddress(slash < 0 ? text : text.slice(0, slash))
  if (address === undefined) return undefined
  const max = address.length * 8
  let prefix = max
  if (slash >= 0) {
    const digits = text.slice(slash + 1)
    if (!/^(0|[1-9][0-9]{0,2})$/.test(digits)) return undefined
    prefix = Number(digits)
    if (prefix > max) return undefined
  }
  // Keep only the network bits so equal blocks compare equal.
  const bytes = address.slice()
  for (let bit = prefix; bit < max; bit++) bytes[bit >> 3] = (bytes[bit >> 3] as number) & ~(0x80 >> (bit & 7))
  return { bytes, prefix }
}

/** Whether `address` (as {@link parseIpAddress} returns it) lies in `block`. */
export function cidrContains(block: CidrBlock, address: Uint8Array): boolean {
  if (address.length !== block.bytes.length) return false
  const whole = block.prefix >> 3
  for (let i = 0; i < whole; i++) if (address[i] !== block.bytes[i]) return false
  const bits = block.prefix & 7
  if (bits === 0) return true
  const mask = (0xff << (8 - bits)) & 0xff
  return ((address[whole] as number) & mask) === block.bytes[whole]
}
