/**
 * A socket's datagrams sent from libuv pool threads, in order. The kernel carries out an rtnetlink request
 * inside the sender's sendmsg(), after taking the rtnl lock every namespace of the host shares: while
 * another process holds it (creating a thousand taps), each request sent from the event loop stalled the
 * whole process, 3-190 ms a request as measured under kvmnet-cni. From a pool thread, only what waits for
 * that answer waits; the replies are still read on the loop. Each datagram starts once the one before it
 * has returned, which keeps the order one sendmsg per datagram on the loop has (the kernel runs a socket's
 * requests as their sendmsg() calls come: an address before the route through it).
 */
import { native } from '../native/index.js'

export interface RtnlSocketOptions {
  /** Send every datagram from a pool thread, in order (one pool round trip more each); on the loop where the addon cannot. */
  sendOffLoop?: boolean | undefined
}

export type SendFailed = (error: { errno?: number; message: string; cause?: unknown }) => void

export class OffLoopSends {
  private last: Promise<void> = Promise.resolve()

  constructor(
    private readonly fd: number,
    private readonly closed: () => boolean,
  ) {}

  /**
   * `holdsBack` false: sent after what came before it, without holding back what comes after (a link
   * delete waits in the kernel for an RCU barrier before its sendmsg returns).
   */
  send(datagram: Buffer, failed: SendFailed, holdsBack = true): void {
    const sent = this.last.then(() => (this.closed() ? undefined : native.netlinkSendOffLoop!(this.fd, datagram).catch(failed)))
    if (holdsBack) this.last = sent
  }
}
