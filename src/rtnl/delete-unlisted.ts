/**
 * A link delete that is over for its caller once the kernel has unlisted the links, not when its ack comes.
 *
 * The kernel unregisters devices under the rtnl lock (unlisting them, sending RTM_DELLINK, freeing their
 * names, addresses and routes), releases the lock, and only then, still inside the sender's sendmsg(),
 * waits in netdev_run_todo() for an RCU barrier and the devices' last references (33-48 ms for a bridge
 * here) before it acks. From the unlisting on, the names are free and nothing lists the links: that is
 * the moment a teardown is done. So the delete is sent from a pool thread (the event loop runs meanwhile)
 * with the socket in the link group's multicast group, and it settles at whichever comes first: every
 * awaited link's RTM_DELLINK, or the ack (which alone carries a refusal: a refused delete unlists nothing).
 */
import { AF_UNSPEC, RTM_DELLINK } from './wire/constants.js'
import { linkIndexOf } from './link-message.js'
import type { RequestMeta, RtnlSocket } from './socket.js'

/** rtnetlink's multicast group of link notifications (linux/rtnetlink.h). */
const RTNLGRP_LINK = 1
/** Bytes of struct ifinfomsg, the fixed part of a link message's payload. */
const IFINFOMSG_BYTES = 16
/**
 * Links watched for at most. Each deleted port also brings an RTM_NEWLINK (it leaves its bridge) and an
 * AF_BRIDGE RTM_DELLINK, ~1.5 KiB each: a thousand ports' would crowd the socket's receive buffer, where
 * an overrun (ENOBUFS) fails everything in flight. A big group also spreads the kernel's one RCU wait over
 * its many links; it is still sent off the event loop, and settles at the ack.
 */
export const MAX_WATCHED_LINKS = 64

/**
 * Sends `msg` (a delete) and resolves once every link of `indexes` is unlisted or the kernel acked it;
 * rejects with the kernel's refusal. The ack of a request settled early is still read (and dropped) later.
 */
export function deleteUntilUnlisted(sock: RtnlSocket, msg: Buffer, meta: RequestMeta, indexes: readonly number[]): Promise<void> {
  if (indexes.length > MAX_WATCHED_LINKS) return sock.requestOffLoop(msg, meta).then(() => undefined)
  const left = new Set(indexes)
  return new Promise<void>((resolve, reject) => {
    let settled = false
    const finish = (err?: Error) => {
      unwatch()
      if (settled) return
      settled = true
      if (err) reject(err)
      else resolve()
    }
    // Joined before the send, so no notification of this delete can go by unseen. A bridge's ports also
    // get an AF_BRIDGE RTM_DELLINK when they leave it: only the AF_UNSPEC one means unregistered.
    const unwatch = sock.watchGroup(RTNLGRP_LINK, (type, buf, start, end) => {
      if (type !== RTM_DELLINK || end - start < IFINFOMSG_BYTES || buf[start] !== AF_UNSPEC) return
      left.delete(linkIndexOf(buf, start))
      if (left.size === 0) finish()
    })
    sock.requestOffLoop(msg, meta).then(
      () => finish(),
      // After an early finish the outcome is known already (the links are gone, so the delete was not
      // refused); a late failure is the socket closed by its owner before the ack: nothing left to tell.
      (err: Error) => finish(err),
    )
  })
}
