import { native, type NativeTap } from '../native/index.js'

export interface TapHandle {
  /** The device's name (a `%d` in the requested name filled in). */
  readonly name: string
  /** One fd per queue, close-on-exec: pass them to QEMU through spawn's stdio. */
  readonly fds: readonly number[]
  readonly persistent: boolean
  /** Closes the fds (idempotent). A non-persistent device disappears with them. */
  close(): void
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
  }
}
