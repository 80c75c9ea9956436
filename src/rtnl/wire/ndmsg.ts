/** struct ndmsg { u8 family; u8 pad1; u16 pad2; s32 ifindex; u16 state; u8 flags; u8 type } — 12 bytes. */
import { needLength } from './header.js'
export const NDMSG_LEN = 12

export interface NdMsg {
  family: number
  index: number
  /** NUD_* bits. */
  state: number
  /** NTF_* bits. */
  flags: number
  type: number
}

export function encodeNdMsg(m: Partial<NdMsg> = {}): Buffer {
  const b = Buffer.alloc(NDMSG_LEN)
  b.writeUInt8(m.family ?? 0, 0)
  b.writeInt32LE(m.index ?? 0, 4)
  b.writeUInt16LE(m.state ?? 0, 8)
  b.writeUInt8(m.flags ?? 0, 10)
  b.writeUInt8(m.type ?? 0, 11)
  return b
}

export function decodeNdMsg(b: Buffer): NdMsg {
  needLength(b, NDMSG_LEN, 'ndmsg')
  return {
    family: b.readUInt8(0),
    index: b.readInt32LE(4),
    state: b.readUInt16LE(8),
    flags: b.readUInt8(10),
    type: b.readUInt8(11),
  }
}
