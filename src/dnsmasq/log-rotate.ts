/**
 * A detached dnsmasq's log, kept bounded. Its stderr is an O_APPEND descriptor on dnsmasq.log, written for
 * as long as the network lives: every reload (each CNI ADD and DEL, each edit) and every DHCP exchange adds
 * lines, and the state directory is under /run, a tmpfs, so an unbounded log is memory the host never
 * gets back. dnsmasq cannot be told to reopen its stderr, so the log is rotated the way logrotate's
 * copytruncate does it: its last part is copied to dnsmasq.log.1 (replacing the previous one) and the log
 * is truncated to nothing; dnsmasq's next write, appended, lands at its new start. What dnsmasq writes
 * between the copy and the truncation (a fraction of a millisecond) is lost: the price of not owning the
 * writer's descriptor. kvmnet has no daemon of its own, so this runs whenever kvmnet starts following the
 * log (adopting the dnsmasq or starting it), which every change to the network does.
 */
import { closeSync, constants, ftruncateSync, fstatSync, openSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs'

/** A log larger than this is rotated; dnsmasq.log.1 keeps at most this much of it. */
export const LOG_ROTATE_BYTES = 1024 * 1024

/**
 * Rotate `path` into `old` if it is larger than `limit`: true when it did. The copy starts at a line's
 * start (the rest of a line cut by the limit is dropped). Neither file is followed if it is a link.
 */
export function rotateLogIfLarge(path: string, old: string, limit = LOG_ROTATE_BYTES): boolean {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
  try {
    const { size } = fstatSync(fd)
    if (size <= limit) return false
    const buf = Buffer.alloc(limit)
    const got = readSync(fd, buf, 0, limit, size - limit)
    const firstLine = buf.subarray(0, got).indexOf(0x0a) + 1
    const tmp = `${old}.tmp`
    rmSync(tmp, { force: true })
    writeFileSync(tmp, buf.subarray(firstLine, got), { flag: 'wx', mode: 0o644 })
    renameSync(tmp, old)
    ftruncateSync(fd, 0)
    return true
  } finally {
    closeSync(fd)
  }
}
