/**
 * Netlink attributes (struct nlattr): a 4-byte header {u16 len, u16 type} then the payload, each
 * attribute padded to 4 bytes. `len` counts header + payload but not the padding.
 */
import { NLA_HDRLEN, NLA_TYPE_MASK } from './constants.js'

export const align4 = (n: number): number => (n + 3) & ~3

/** One encoded attribute, padding included, ready to concatenate with its siblings. */
export function attr(type: number, payload: Uint8Array): Buffer {
  const len = NLA_HDRLEN + payload.length
  const out = Buffer.alloc(align4(len))
  out.writeUInt16LE(len, 0)
  out.writeUInt16LE(type, 2)
  out.set(payload, NLA_HDRLEN)
  return out
}

/** A nested attribute: its payload is the concatenation of already-encoded attributes. */
export function nested(type: number, children: readonly Buffer[]): Buffer {
  return attr(type, Buffer.concat(children))
}

export function attrU8(type: number, v: number): Buffer {
  return attr(type, Uint8Array.of(v & 0xff))
}

export function attrU16(type: number, v: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16LE(v, 0)
  return attr(type, b)
}

/** Network byte order u16, e.g. a UDP port. */
export function attrU16be(type: number, v: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(v, 0)
  return attr(type, b)
}

/** Written in place (no payload buffer): a 1000-port apply encodes thousands of these. */
export function attrU32(type: number, v: number): Buffer {
  const out = Buffer.alloc(NLA_HDRLEN + 4)
  out.writeUInt16LE(NLA_HDRLEN + 4, 0)
  out.writeUInt16LE(type, 2)
  out.writeUInt32LE(v >>> 0, NLA_HDRLEN)
  return out
}

export function attrS32(type: number, v: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeInt32LE(v, 0)
  return attr(type, b)
}

/** NUL-terminated string (NLA_STRING / NLA_NUL_STRING both accept the terminator). */
export function attrString(type: number, s: string): Buffer {
  const bytes = Buffer.byteLength(s, 'utf8')
  const len = NLA_HDRLEN + bytes + 1
  // Zeroed: the terminator and the padding.
  const out = Buffer.alloc(align4(len))
  out.writeUInt16LE(len, 0)
  out.writeUInt16LE(type, 2)
  out.write(s, NLA_HDRLEN, 'utf8')
  return out
}

export interface RawAttr {
  /** Type with NLA_F_NESTED / NLA_F_NET_BYTEORDER masked off. */
  type: number
  data: Buffer
}

/**
 * Split a run of attributes. Stops at the first malformed header instead of throwing: the kernel may
 * append attributes newer than this code, and a truncated tail must not hide the ones before it.
 */
export function parseAttrs(buf: Buffer, start = 0, end = buf.length): RawAttr[] {
  const out: RawAttr[] = []
  let off = start
  while (off + NLA_HDRLEN <= end) {
    const len = buf.readUInt16LE(off)
    if (len < NLA_HDRLEN || off + len > end) break
    out.push({ type: buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, data: buf.subarray(off + NLA_HDRLEN, off + len) })
    off += align4(len)
  }
  return out
}

/**
 * Attributes by type without cutting them out: one pass records offsets, and a Buffer is made only for
 * the types asked for (the typed readers make none). A link message carries ~50 attributes of which a
 * decoder reads a dozen, and on a 1000-link dump the cutting was most of the decode time; the offsets are
 * kept in an array by type and the headers read byte by byte, which a dump of 1000 links also feels. The
 * first occurrence of a type wins.
 */
export class AttrIndex {
  /** Offset of each type's first attribute header, by type. */
  private readonly at: number[] = []

  constructor(
    private readonly buf: Buffer,
    start = 0,
    end = buf.length,
  ) {
    let off = start
    while (off + NLA_HDRLEN <= end) {
      const len = buf[off]! | (buf[off + 1]! << 8)
      if (len < NLA_HDRLEN || off + len > end) break
      const type = (buf[off + 2]! | (buf[off + 3]! << 8)) & NLA_TYPE_MASK
      if (this.at[type] === undefined) this.at[type] = off
      off += align4(len)
    }
  }

  get(type: number): Buffer | undefined {
    const off = this.at[type]
    return off === undefined ? undefined : this.buf.subarray(off + NLA_HDRLEN, off + this.len(off))
  }

  /** A u32 attribute (host order), undefined when absent or short. */
  u32(type: number): number | undefined {
    const off = this.at[type]
    return off !== undefined && this.len(off) >= NLA_HDRLEN + 4 ? this.buf.readUInt32LE(off + NLA_HDRLEN) : undefined
  }

  s32(type: number): number | undefined {
    const off = this.at[type]
    return off !== undefined && this.len(off) >= NLA_HDRLEN + 4 ? this.buf.readInt32LE(off + NLA_HDRLEN) : undefined
  }

  u8(type: number): number | undefined {
    const off = this.at[type]
    return off !== undefined && this.len(off) >= NLA_HDRLEN + 1 ? this.buf[off + NLA_HDRLEN] : undefined
  }

  /** A string attribute up to its NUL, as readString reads it. */
  string(type: number): string | undefined {
    const off = this.at[type]
    if (off === undefined) return undefined
    const end = off + this.len(off)
    const nul = this.buf.indexOf(0, off + NLA_HDRLEN)
    return this.buf.toString('utf8', off + NLA_HDRLEN, nul === -1 || nul > end ? end : nul)
  }

  /** The attributes nested in one, indexed the same way. */
  nested(type: number): AttrIndex | undefined {
    const off = this.at[type]
    return off === undefined ? undefined : new AttrIndex(this.buf, off + NLA_HDRLEN, off + this.len(off))
  }

  private len(off: number): number {
    return this.buf[off]! | (this.buf[off + 1]! << 8)
  }
}

/**
 * Offset of the header of the first attribute of `type` in a run, or -1: nothing is allocated, for a
 * dump filtered before decoding (a namespace's thousand links, of which a network needs ten).
 */
export function attrOffset(buf: Buffer, type: number, start = 0, end = buf.length): number {
  let off = start
  while (off + NLA_HDRLEN <= end) {
    const len = buf[off]! | (buf[off + 1]! << 8)
    if (len < NLA_HDRLEN || off + len > end) return -1
    if (((buf[off + 2]! | (buf[off + 3]! << 8)) & NLA_TYPE_MASK) === type) return off
    off += align4(len)
  }
  return -1
}

/** The string attribute whose header is at `off` (see attrOffset), up to its NUL; undefined for -1. */
export function stringAt(buf: Buffer, off: number): string | undefined {
  if (off < 0) return undefined
  const end = off + (buf[off]! | (buf[off + 1]! << 8))
  const nul = buf.indexOf(0, off + NLA_HDRLEN)
  return buf.toString('utf8', off + NLA_HDRLEN, nul === -1 || nul > end ? end : nul)
}

/** The u32 attribute whose header is at `off`; undefined for -1 or a short one. */
export function u32At(buf: Buffer, off: number): number | undefined {
  return off >= 0 && (buf[off]! | (buf[off + 1]! << 8)) >= NLA_HDRLEN + 4 ? buf.readUInt32LE(off + NLA_HDRLEN) : undefined
}

/** The payload of the first attribute of `type` in a run, without indexing the others (undefined: none). */
export function findAttr(buf: Buffer, type: number, start = 0, end = buf.length): Buffer | undefined {
  let off = start
  while (off + NLA_HDRLEN <= end) {
    const len = buf.readUInt16LE(off)
    if (len < NLA_HDRLEN || off + len > end) return undefined
    if ((buf.readUInt16LE(off + 2) & NLA_TYPE_MASK) === type) return buf.subarray(off + NLA_HDRLEN, off + len)
    off += align4(len)
  }
  return undefined
}

/** Attributes by type; the first occurrence wins (repeated attributes are read with parseAttrs). */
export function attrMap(buf: Buffer, start = 0, end = buf.length): Map<number, Buffer> {
  const m = new Map<number, Buffer>()
  for (const a of parseAttrs(buf, start, end)) if (!m.has(a.type)) m.set(a.type, a.data)
  return m
}

export function readString(data: Buffer | undefined): string | undefined {
  if (data === undefined) return undefined
  const nul = data.indexOf(0)
  return data.toString('utf8', 0, nul === -1 ? data.length : nul)
}

export function readU32(data: Buffer | undefined): number | undefined {
  return data !== undefined && data.length >= 4 ? data.readUInt32LE(0) : undefined
}

export function readS32(data: Buffer | undefined): number | undefined {
  return data !== undefined && data.length >= 4 ? data.readInt32LE(0) : undefined
}

export function readU16be(data: Buffer | undefined): number | undefined {
  return data !== undefined && data.length >= 2 ? data.readUInt16BE(0) : undefined
}

export function readU8(data: Buffer | undefined): number | undefined {
  return data !== undefined && data.length >= 1 ? data.readUInt8(0) : undefined
}
