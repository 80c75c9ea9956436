import { close as closeFdAsync } from 'node:fs'
import { native, type NativeTap } from '../native/index.js'

export interface TapHandle {
  /** The device's name (a `%d` in the requested name filled in). */
  readonly name: string
  /** One fd per queue, close-on-exec: pass them to QEMU through spawn's stdio. */
  readonly fds: readonly number[]
  readonly persistent: boolean
  /** Closes the fds (idempotent). A non-persistent device disappears with them. */
  close(): void
  /**
   * close(), off the event loop (libuv's thread pool): the kernel detaches a tap's queue with an RCU
   * grace period per fd (tun's synchronize_net), milliseconds on a loaded host that the event loop can
   * spend on the apply's other steps meanwhile.
   */
  closeAsync(): Promise<void>
}

export function tapHandle(tap: NativeTap): TapHandle {
  let open = true
  return {
    name: tap.name,
    fds: Object.freeze([...tap.fds]),
    persistent: tap.persistent,
    close() {
      if (!open) return
      open = false
      // Close every fd even if one fails, then report the first failure.
      let first: unknown
      for (const fd of tap.fds) {
        try {
          native.closeFd(fd)
        } catch (err) {
          first ??= err
        }
      }
      if (first !== undefined) throw first
    },
    async closeAsync() {
      if (!open) return
      open = false
      const results = await Promise.allSettled(tap.fds.map((fd) => new Promise<void>((resolve, reject) => closeFdAsync(fd, (err) => (err ? reject(err) : resolve())))))
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed) throw failed.reason
    },
  }
}
