/**
 * NLMSG_ERROR payload: struct nlmsgerr { s32 error; struct nlmsghdr msg; } followed by the rest of the
 * request (unless NLM_F_CAPPED) and, with NETLINK_EXT_ACK, TLVs (NLM_F_ACK_TLVS). error 0 is an ack.
 * NLMSG_DONE of a dump carries an s32 error too, and may carry the same TLVs.
 */
import { attrMap, readString, readU32 } from './attrs.js'
import {
  NLMSG_HDRLEN,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
} from './constants.js'
import { decodeHeader, type NlMsgHeader } from './header.js'

export interface NlError {
  /** Positive errno, 0 for a plain ack. */
  errno: number
  /** Header of the request this answers (its seq identifies the request). */
  request: NlMsgHeader | undefined
  /** NLMSGERR_ATTR_MSG: the kernel's explanation. */
  message: string | undefined
  /** NLMSGERR_ATTR_OFFS: byte offset, within the request, of the attribute the kernel objected to. */
  offset: number | undefined
}

export function parseNlError(payload: Buffer, flags: number): NlError {
  const errno = payload.length >= 4 ? Math.abs(payload.readInt32LE(0)) : 0
  const request = payload.length >= 4 + NLMSG_HDRLEN ? decodeHeader(payload, 4) : undefined
  let message: string | undefined
  let offset: number | undefined
  if (flags & NLM_F_ACK_TLVS && request) {
    // Capped acks echo only the request header; uncapped ones echo the whole request before the TLVs.
    const echoed = flags & NLM_F_CAPPED ? NLMSG_HDRLEN : request.len
    // Not `& ~3`: an echoed length of 2^31 or more would come out negative, and the TLVs read before the payload.
    const start = 4 + Math.ceil(echoed / 4) * 4
    if (start <= payload.length) {
      const tlv = attrMap(payload, start)
      message = readString(tlv.get(NLMSGERR_ATTR_MSG))
      offset = readU32(tlv.get(NLMSGERR_ATTR_OFFS))
    }
  }
  return { errno, request, message, offset }
}

/** NLMSG_DONE: s32 error (0 normally), then extended-ack TLVs when NLM_F_ACK_TLVS is set. */
export function parseDone(payload: Buffer, flags: number): { errno: number; message: string | undefined } {
  const errno = payload.length >= 4 ? Math.abs(payload.readInt32LE(0)) : 0
  let message: string | undefined
  if (flags & NLM_F_ACK_TLVS && payload.length > 4) message = readString(attrMap(payload, 4).get(NLMSGERR_ATTR_MSG))
  return { errno, message }
}
