/**
 * struct nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid } and whole-message framing.
 * Requests are encoded with seq 0; the socket stamps the sequence number when it sends them, so the
 * same encoder output can be golden-tested and reused.
 */
import { SystemError } from '../../errors.js'
import { NLMSG_HDRLEN } from './constants.js'
import { align4 } from './attrs.js'

export interface NlMsgHeader {
  len: number
  type: number
  flags: number
  seq: number
  pid: number
}

/** A complete netlink message: header, fixed family header, then attributes. */
export function encodeMessage(type: number, flags: number, parts: readonly Uint8Array[], seq = 0, pid = 0): Buffer {
  const bodyLen = parts.reduce((n, p) => n + p.length, 0)
  const len = NLMSG_HDRLEN + bodyLen
  const out = Buffer.alloc(align4(len))
  out.writeUInt32LE(len, 0)
  out.writeUInt16LE(type, 4)
  out.writeUInt16LE(flags, 6)
  out.writeUInt32LE(seq >>> 0, 8)
  out.writeUInt32LE(pid >>> 0, 12)
  let off = NLMSG_HDRLEN
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

export function decodeHeader(buf: Buffer, off = 0): NlMsgHeader {
  return {
    len: buf.readUInt32LE(off),
    type: buf.readUInt16LE(off + 4),
    flags: buf.readUInt16LE(off + 6),
    seq: buf.readUInt32LE(off + 8),
    pid: buf.readUInt32LE(off + 12),
  }
}

export function setSeq(msg: Buffer, seq: number): void {
  msg.writeUInt32LE(seq >>> 0, 8)
}

export function setPid(msg: Buffer, pid: number): void {
  msg.writeUInt32LE(pid >>> 0, 12)
}

export interface NlMsg {
  header: NlMsgHeader
  /** Everything after the nlmsghdr, up to header.len. */
  payload: Buffer
}

/** Split a received datagram into its messages (a datagram may carry many: a dump page, or many acks). */
export function splitMessages(buf: Buffer): NlMsg[] {
  const out: NlMsg[] = []
  let off = 0
  while (off + NLMSG_HDRLEN <= buf.length) {
    const header = decodeHeader(buf, off)
    if (header.len < NLMSG_HDRLEN || off + header.len > buf.length) break
    out.push({ header, payload: buf.subarray(off + NLMSG_HDRLEN, off + header.len) })
    off += align4(header.len)
  }
  return out
}

const EPROTO = 71

/**
 * A message shorter than its fixed family header (ifinfomsg, rtmsg, ...) is no message the kernel sends:
 * a typed EPROTO, not the RangeError a Buffer read past its end would throw from deep inside a decoder.
 */
export function needLength(b: Buffer, len: number, what: string): void {
  if (b.length < len) throw protocolError(`a netlink message of ${b.length} bytes is shorter than its ${what} (${len})`)
}

/** What the kernel would never send, found while decoding: EPROTO. */
export function protocolError(message: string): SystemError {
  return new SystemError({ errno: EPROTO, syscall: 'recvmsg', message })
}
