/** struct ifaddrmsg { u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index } — 8 bytes. */
import { needLength } from './header.js'
export const IFADDRMSG_LEN = 8

export interface IfAddrMsg {
  family: number
  prefixLength: number
  flags: number
  scope: number
  index: number
}

export function encodeIfAddrMsg(m: Partial<IfAddrMsg> = {}): Buffer {
  const b = Buffer.alloc(IFADDRMSG_LEN)
  b.writeUInt8(m.family ?? 0, 0)
  b.writeUInt8(m.prefixLength ?? 0, 1)
  b.writeUInt8((m.flags ?? 0) & 0xff, 2)
  b.writeUInt8(m.scope ?? 0, 3)
  b.writeUInt32LE(m.index ?? 0, 4)
  return b
}

export function decodeIfAddrMsg(b: Buffer): IfAddrMsg {
  needLength(b, IFADDRMSG_LEN, 'ifaddrmsg')
  return {
    family: b.readUInt8(0),
    prefixLength: b.readUInt8(1),
    flags: b.readUInt8(2),
    scope: b.readUInt8(3),
    index: b.readUInt32LE(4),
  }
}
