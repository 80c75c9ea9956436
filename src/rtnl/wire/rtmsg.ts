/** struct rtmsg { u8 family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags } — 12 bytes. */
import { needLength } from './header.js'
export const RTMSG_LEN = 12

export interface RtMsg {
  family: number
  dstLen: number
  srcLen: number
  tos: number
  table: number
  protocol: number
  scope: number
  type: number
  flags: number
}

export function encodeRtMsg(m: Partial<RtMsg> = {}): Buffer {
  const b = Buffer.alloc(RTMSG_LEN)
  b.writeUInt8(m.family ?? 0, 0)
  b.writeUInt8(m.dstLen ?? 0, 1)
  b.writeUInt8(m.srcLen ?? 0, 2)
  b.writeUInt8(m.tos ?? 0, 3)
  b.writeUInt8(m.table ?? 0, 4)
  b.writeUInt8(m.protocol ?? 0, 5)
  b.writeUInt8(m.scope ?? 0, 6)
  b.writeUInt8(m.type ?? 0, 7)
  b.writeUInt32LE((m.flags ?? 0) >>> 0, 8)
  return b
}

export function decodeRtMsg(b: Buffer): RtMsg {
  needLength(b, RTMSG_LEN, 'rtmsg')
  return {
    family: b.readUInt8(0),
    dstLen: b.readUInt8(1),
    srcLen: b.readUInt8(2),
    tos: b.readUInt8(3),
    table: b.readUInt8(4),
    protocol: b.readUInt8(5),
    scope: b.readUInt8(6),
    type: b.readUInt8(7),
    flags: b.readUInt32LE(8),
  }
}
