/**
 * stdout and stderr through their file descriptors. On a pipe (a shell pipeline, a runtime, a supervisor)
 * Node makes process.stdout/stderr a net.Socket: the first touch of either loads the socket machinery (net,
 * stream_wrap, pipe_wrap) and leaves a handle for the exit to close — 3-40 ms of a short-lived kvmnet
 * process on a loaded 2-core host. A write is one blocking write(2), as a shell command's is.
 *
 * A descriptor left non-blocking by whoever made it (EAGAIN) falls back to Node's stream for the rest. A
 * reader that has gone (EPIPE: `kvmnet schema | head -1`) is no failure of the command: the process stops
 * quietly with the status a shell gives a command whose pipe closed (128 + SIGPIPE), on either path.
 */
import { fstatSync, writeSync } from 'node:fs'
import { createRequire } from 'node:module'
import type * as TtyModule from 'node:tty'

/** The exit status of a command whose output's reader went away: 128 + SIGPIPE. */
export const EXIT_PIPE_CLOSED = 141

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code
}

/** The descriptors that once would have blocked: from then on, everything goes through the stream, in order. */
const streamed = new Set<number>()

function stream(fd: 1 | 2): NodeJS.WriteStream {
  const s = fd === 1 ? process.stdout : process.stderr
  if (!streamed.has(fd)) {
    streamed.add(fd)
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err
      process.exit(EXIT_PIPE_CLOSED)
    })
  }
  return s
}

/** All of `text` to `fd` (a pipe may take a large output in parts). */
export function writeFd(fd: 1 | 2, text: string): void {
  if (streamed.has(fd)) {
    stream(fd).write(text)
    return
  }
  const buf = Buffer.from(text, 'utf8')
  let off = 0
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off)
    } catch (err) {
      if (code(err) === 'EAGAIN') {
        stream(fd).write(buf.subarray(off))
        return
      }
      if (code(err) === 'EPIPE') process.exit(EXIT_PIPE_CLOSED)
      throw err
    }
  }
}

export const writeStdout = (text: string): void => writeFd(1, text)
export const writeStderr = (text: string): void => writeFd(2, text)

/**
 * Whether `fd` is a terminal. A pipe or a file is told apart by fstat first: node:tty loads node:net, and
 * is loaded (tsup's shims give the CommonJS bundles an import.meta.url) only for a character device (a
 * terminal, or /dev/null).
 */
export function isTerminal(fd: number): boolean {
  try {
    return fstatSync(fd).isCharacterDevice() && (createRequire(import.meta.url)('node:tty') as typeof TtyModule).isatty(fd)
  } catch (err) {
    // Closed (EBADF): no terminal there.
    if (code(err) === 'EBADF') return false
    throw err
  }
}
