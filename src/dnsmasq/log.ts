/**
 * dnsmasq's own words. With log-facility=- it logs to stderr: 'dnsmasq[PID]: ...' for events, and a fatal
 * startup error as a bare 'dnsmasq: ...' line before exiting. The log is kept (last lines only) so that a
 * failure can be reported in dnsmasq's words, and watched so that reload() can wait for the
 * 'read <file>' lines that prove a SIGHUP was handled.
 */
import { statSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { rotateLogIfLarge } from './log-rotate.js'

const KEEP_LINES = 200
/** dnsmasq's own lines are at most ~1 KB (its MAX_MESSAGE); anything longer is kept cut short. */
const MAX_LINE = 8192
const capped = (line: string): string => (line.length > MAX_LINE ? line.slice(0, MAX_LINE) : line)

interface Waiter {
  test: (line: string) => boolean
  resolve: () => void
}

export class DnsmasqLog {
  private lines: string[] = []
  private partial = ''
  private waiters = new Set<Waiter>()

  /** Feed raw output; complete lines are kept and offered to waiters. */
  push(chunk: string): string[] {
    // Output without a newline waits in `partial`, cut at MAX_LINE: re-splitting an unbounded partial on
    // every chunk made a long run without one quadratic (2 MB in 1 KB chunks: 21 s).
    const nl = chunk.lastIndexOf('\n')
    if (nl === -1) {
      this.partial = capped(this.partial + chunk)
      return []
    }
    const parts = (this.partial + chunk.slice(0, nl)).split('\n')
    this.partial = capped(chunk.slice(nl + 1))
    const complete = parts.filter((l) => l.trim() !== '').map(capped)
    for (const line of complete) {
      this.lines.push(line)
      for (const w of [...this.waiters]) {
        if (w.test(line)) {
          this.waiters.delete(w)
          w.resolve()
        }
      }
    }
    if (this.lines.length > KEEP_LINES) this.lines.splice(0, this.lines.length - KEEP_LINES)
    return complete
  }

  /** Resolves at the first line (fed after this call) that passes `test`. */
  waitFor(test: (line: string) => boolean): { promise: Promise<void>; cancel: () => void } {
    let waiter!: Waiter
    const promise = new Promise<void>((resolve) => {
      waiter = { test, resolve }
    })
    this.waiters.add(waiter)
    return { promise, cancel: () => this.waiters.delete(waiter) }
  }

  recent(n = 20): string[] {
    const all = this.partial.trim() ? [...this.lines, this.partial] : this.lines
    return all.slice(-n)
  }

  /** dnsmasq's fatal message if it printed one ('dnsmasq: ...' without a pid), else its last lines. */
  detail(): string {
    const all = this.recent(KEEP_LINES)
    const fatal = all.filter((l) => /^dnsmasq: /.test(l))
    if (fatal.length > 0) return fatal.join('\n')
    return all.slice(-5).join('\n') || '(no output)'
  }
}

/** Follows a log file from an offset (a detached dnsmasq writes its stderr there). */
export class LogFileTail {
  constructor(
    private readonly path: string,
    private offset = 0,
  ) {}

  /** New text since the last read ('' when none, or when the file does not exist yet). */
  async read(): Promise<string> {
    let fh
    try {
      fh = await open(this.path, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ''
      throw err
    }
    try {
      const { size } = await fh.stat()
      if (size < this.offset) this.offset = 0
      if (size === this.offset) return ''
      const buf = Buffer.alloc(size - this.offset)
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset)
      this.offset += bytesRead
      return buf.subarray(0, bytesRead).toString('utf8')
    } finally {
      await fh.close()
    }
  }

  /**
   * Start from the current end: only what is written from now on. The text before is not read: the log of
   * a detached dnsmasq grows by a reload's lines with every change for as long as the network lives, and
   * every CNI command adopts it again. With `rotateTo`, a log over LOG_ROTATE_BYTES is rotated there first.
   */
  static async atEnd(path: string, rotateTo?: string): Promise<LogFileTail> {
    // A log grown over its limit is rotated first (log-rotate.ts): followed from its new, empty start.
    if (rotateTo !== undefined && rotateLogIfLarge(path, rotateTo)) return new LogFileTail(path, 0)
    return new LogFileTail(path, statSync(path, { throwIfNoEntry: false })?.size ?? 0)
  }
}
