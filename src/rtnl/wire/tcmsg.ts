/**
 * struct tcmsg { u8 family; u8 pad1; u16 pad2; s32 ifindex; u32 handle; u32 parent; u32 info } — 20 bytes.
 * For filters `info` is (prio << 16) | htons(protocol).
 */
import { needLength } from './header.js'
export const TCMSG_LEN = 20

export interface TcMsg {
  ifindex: number
  handle: number
  parent: number
  info: number
}

export function encodeTcMsg(m: Partial<TcMsg> = {}): Buffer {
  const b = Buffer.alloc(TCMSG_LEN)
  b.writeInt32LE(m.ifindex ?? 0, 4)
  b.writeUInt32LE((m.handle ?? 0) >>> 0, 8)
  b.writeUInt32LE((m.parent ?? 0) >>> 0, 12)
  b.writeUInt32LE((m.info ?? 0) >>> 0, 16)
  return b
}

export function decodeTcMsg(b: Buffer): TcMsg {
  needLength(b, TCMSG_LEN, 'tcmsg')
  return { ifindex: b.readInt32LE(4), handle: b.readUInt32LE(8), parent: b.readUInt32LE(12), info: b.readUInt32LE(16) }
}

/** A filter's tcm_info: its priority and protocol (network byte order in the low 16 bits). */
export function filterInfo(prio: number, protocol: number): number {
  return ((prio << 16) | (((protocol & 0xff) << 8) | ((protocol >> 8) & 0xff))) >>> 0
}

export function filterPrio(info: number): number {
  return info >>> 16
}

/** `major:minor` as tc writes a handle (hex, minor omitted when 0). */
export function formatHandle(h: number): string {
  if (h === 0xffffffff) return 'root'
  const major = (h >>> 16).toString(16)
  const minor = h & 0xffff
  return minor === 0 ? `${major}:` : `${major}:${minor.toString(16)}`
}
