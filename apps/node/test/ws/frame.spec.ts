import * as ws from 'ws'
import { describe, expect, it } from 'vitest'
import { textFrame } from '../../src/server/ws/gateway.js'

/** `ws`'s own frame parser (exported by the package, not described by its types). */
interface FrameReceiver {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void
  on(event: 'error', listener: (err: Error) => void): void
  write(chunk: Buffer): void
}
const { Receiver } = ws as unknown as { Receiver: new (options: { isServer: boolean }) => FrameReceiver }

describe('textFrame', () => {
  it('writes the RFC 6455 header for each payload length encoding', () => {
    expect([...textFrame(Buffer.from('hi')).subarray(0, 2)]).toEqual([0x81, 2])
    expect([...textFrame(Buffer.alloc(300)).subarray(0, 4)]).toEqual([0x81, 126, 0x01, 0x2c])
    expect([...textFrame(Buffer.alloc(70_000)).subarray(0, 10)]).toEqual([0x81, 127, 0, 0, 0, 0, 0x00, 0x01, 0x11, 0x70])
  })

  it('makes frames a ws client reads back as the same text messages', () => {
    const receiver = new Receiver({ isServer: false })
    const received: { text: string; binary: boolean }[] = []
    receiver.on('message', (data, binary) => received.push({ text: data.toString('utf8'), binary }))
    receiver.on('error', (err) => {
      throw err
    })
    const payloads = [0, 125, 126, 65_535, 65_536, 200_000].map((n) => 'é'.repeat(n >> 1) + 'x'.repeat(n & 1))
    for (const payload of payloads) receiver.write(textFrame(Buffer.from(payload, 'utf8')))
    expect(received).toEqual(payloads.map((text) => ({ text, binary: false })))
  })
})
