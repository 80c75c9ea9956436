/** The types of RtnlSocket's requests and replies (socket.ts). */
/** A data message the kernel sent in answer to a request (an RTM_NEWLINK of a GETLINK, a dump entry). */
export interface NlReply {
  type: number
  flags: number
  /** Bytes after the nlmsghdr. */
  payload: Buffer
}

export interface RequestMeta {
  /** What the request is about, for error messages: a link name, an address, a route. */
  object?: string | undefined
  /** Name of the request for errors, when it is not an rtnetlink type (e.g. 'NFT_MSG_GETTABLE'). */
  op?: string | undefined
}

/**
 * Which data replies of a dump to keep, judged in the datagram (the payload is buf[start, end)) before
 * any object is made for it: a dump of a namespace's thousand links for a network's ten then holds ten.
 */
export type ReplyFilter = (buf: Buffer, start: number, end: number) => boolean

export interface DumpMeta extends RequestMeta {
  keep?: ReplyFilter | undefined
}

/** Sees every message the socket receives (a notification's payload is buf[start, end)). */
export type MessageWatcher = (type: number, buf: Buffer, start: number, end: number) => void

export interface BatchItem extends RequestMeta {
  /** One encoded netlink message (see the encoders); its seq is set here. */
  msg: Buffer
}

export type BatchResult = { ok: true; replies: NlReply[] } | { ok: false; error: Error }
