/** struct ifinfomsg { u8 family; u8 pad; u16 type; s32 index; u32 flags; u32 change } — 16 bytes. */
import { needLength } from './header.js'
export const IFINFOMSG_LEN = 16

export interface IfInfoMsg {
  family: number
  type: number
  index: number
  flags: number
  change: number
}

export function encodeIfInfoMsg(m: Partial<IfInfoMsg> = {}): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN)
  b.writeUInt8(m.family ?? 0, 0)
  b.writeUInt16LE(m.type ?? 0, 2)
  b.writeInt32LE(m.index ?? 0, 4)
  b.writeUInt32LE((m.flags ?? 0) >>> 0, 8)
  b.writeUInt32LE((m.change ?? 0) >>> 0, 12)
  return b
}

export function decodeIfInfoMsg(b: Buffer): IfInfoMsg {
  needLength(b, IFINFOMSG_LEN, 'ifinfomsg')
  return {
    family: b.readUInt8(0),
    type: b.readUInt16LE(2),
    index: b.readInt32LE(4),
    flags: b.readUInt32LE(8),
    change: b.readUInt32LE(12),
  }
}
