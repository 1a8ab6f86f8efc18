// SHA-256 of the input bytes (FIPS 180-4, implemented here in AssemblyScript): the lowercase hex
// digest, as a JSON string.
import { Host } from '@extism/as-pdk'
export { templateAbort } from './abort'

const K: StaticArray<u32> = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
]

function compress(state: StaticArray<u32>, block: Uint8Array, offset: i32, w: StaticArray<u32>): void {
  for (let t = 0; t < 16; t++) {
    const p = offset + t * 4
    w[t] = (<u32>block[p] << 24) | (<u32>block[p + 1] << 16) | (<u32>block[p + 2] << 8) | <u32>block[p + 3]
  }
  for (let t = 16; t < 64; t++) {
    const a = w[t - 15]
    const b = w[t - 2]
    const s0 = rotr<u32>(a, 7) ^ rotr<u32>(a, 18) ^ (a >>> 3)
    const s1 = rotr<u32>(b, 17) ^ rotr<u32>(b, 19) ^ (b >>> 10)
    w[t] = w[t - 16] + s0 + w[t - 7] + s1
  }
  let a = state[0], b = state[1], c = state[2], d = state[3]
  let e = state[4], f = state[5], g = state[6], h = state[7]
  for (let t = 0; t < 64; t++) {
    const S1 = rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25)
    const ch = (e & f) ^ (~e & g)
    const t1 = h + S1 + ch + K[t] + w[t]
    const S0 = rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22)
    const maj = (a & b) ^ (a & c) ^ (b & c)
    const t2 = S0 + maj
    h = g; g = f; f = e; e = d + t1
    d = c; c = b; b = a; a = t1 + t2
  }
  state[0] += a; state[1] += b; state[2] += c; state[3] += d
  state[4] += e; state[5] += f; state[6] += g; state[7] += h
}

export function sha256(): i32 {
  const input = Host.input()
  const length = input.length
  const state: StaticArray<u32> = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
  const w = new StaticArray<u32>(64)
  const full = length - (length % 64)
  for (let i = 0; i < full; i += 64) compress(state, input, i, w)
  const rest = length - full
  const tailLength = rest < 56 ? 64 : 128
  const tail = new Uint8Array(tailLength)
  for (let i = 0; i < rest; i++) tail[i] = input[full + i]
  tail[rest] = 0x80
  const bits = <u64>length * 8
  for (let i = 0; i < 8; i++) tail[tailLength - 1 - i] = <u8>(bits >>> (<u64>i * 8))
  compress(state, tail, 0, w)
  if (tailLength == 128) compress(state, tail, 64, w)
  const hex = '0123456789abcdef'
  let out = ''
  for (let i = 0; i < 8; i++) {
    const word = state[i]
    for (let j = 7; j >= 0; j--) out += hex.charAt(<i32>((word >>> (<u32>j * 4)) & 0xf))
  }
  Host.outputString('"' + out + '"')
  return 0
}
