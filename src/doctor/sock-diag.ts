/**
 * Listening sockets as the kernel's socket diagnostics report them: SOCK_DIAG_BY_FAMILY dumps of inet_diag
 * over NETLINK_SOCK_DIAG, which is what `ss` itself asks. Read over a socket opened in the namespace, so
 * doctor runs no `ss` there. Pure: the request and the reply's decoding (golden-tested without root).
 */
import { NLM_F_DUMP, NLM_F_REQUEST, encodeMessage, parseAttrs } from '../rtnl/index.js'
import { ipaddr } from '../util/index.js'

export const NETLINK_SOCK_DIAG = 4
export const SOCK_DIAG_BY_FAMILY = 20

const AF_INET = 2
const AF_INET6 = 10
const IPPROTO_TCP = 6
const IPPROTO_UDP = 17
/** Socket states (TCP's numbering, which UDP shares): `ss -l` asks for TCP's LISTEN and UDP's unconnected CLOSE. */
const TCP_CLOSE = 7
const TCP_LISTEN = 10
/** Sent for every AF_INET6 socket: whether it is v6-only (a dual-stack wildcard takes IPv4 ports too). */
const INET_DIAG_SKV6ONLY = 11

/** struct inet_diag_req_v2 (56 bytes): family, protocol, ext, pad, states, then an all-zero inet_diag_sockid. */
const REQ_LEN = 56
/** struct inet_diag_msg (72 bytes): family, state, timer, retrans, the sockid (48), expires, rqueue, wqueue, uid, inode. */
const MSG_LEN = 72
const SOCKID = 4
const SOCKID_SRC = SOCKID + 4
const SOCKID_IF = SOCKID + 36
const INODE = 68

export interface DiagSocket {
  proto: 'udp' | 'tcp'
  family: 4 | 6
  /** The local address as ss prints it: '0.0.0.0', '::', or '*' for a dual-stack IPv6 wildcard. */
  addr: string
  port: number
  /** The device it is bound to (SO_BINDTODEVICE), 0 for none. */
  ifindex: number
  inode: number
}

/** The dump of one family's listening (TCP) or unconnected (UDP) sockets: `ss -Hln{t,u}` for it. */
export function encodeListeningDump(family: 4 | 6, proto: 'udp' | 'tcp'): Buffer {
  const req = Buffer.alloc(REQ_LEN)
  req.writeUInt8(family === 4 ? AF_INET : AF_INET6, 0)
  req.writeUInt8(proto === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP, 1)
  req.writeUInt32LE(1 << (proto === 'tcp' ? TCP_LISTEN : TCP_CLOSE), 4)
  return encodeMessage(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, [req])
}

/** One reply of that dump; undefined for anything shorter than an inet_diag_msg or of another family. */
export function decodeInetDiag(payload: Buffer, proto: 'udp' | 'tcp'): DiagSocket | undefined {
  if (payload.length < MSG_LEN) return undefined
  const af = payload.readUInt8(0)
  if (af !== AF_INET && af !== AF_INET6) return undefined
  const family = af === AF_INET ? 4 : 6
  const bytes = payload.subarray(SOCKID_SRC, SOCKID_SRC + (family === 4 ? 4 : 16))
  let addr = ipaddr.fromByteArray([...bytes]).toString()
  if (family === 6 && addr === '::') {
    const v6only = parseAttrs(payload, MSG_LEN).find((a) => a.type === INET_DIAG_SKV6ONLY)?.data
    // Without the attribute (an older kernel), ss prints '*' too: it assumes dual stack.
    if (!v6only || v6only.length === 0 || v6only.readUInt8(0) === 0) addr = '*'
  }
  return {
    proto,
    family,
    addr,
    port: payload.readUInt16BE(SOCKID),
    ifindex: payload.readUInt32LE(SOCKID_IF),
    inode: payload.readUInt32LE(INODE),
  }
}
