/**
 * The plugin's standard streams, through their file descriptors. A runtime gives the plugin pipes, and
 * Node makes process.stdin/stdout/stderr on a pipe a net.Socket: the first touch of any of them loads the
 * socket machinery (net, stream_wrap, pipe_wrap) and leaves a handle the exit closes — measured 10-15 ms
 * of a kvmnet-cni process on a loaded 2-core host, about a fifth of the CNI reference chain's whole ADD.
 * The configuration is one JSON document the runtime writes and closes: read to end of file with one
 * blocking read, as the reference plugins (Go, os.Stdin) do; a result is one write.
 *
 * A descriptor left non-blocking by whoever made it (EAGAIN) falls back to Node's stream for that stream.
 */
import { readSync } from 'node:fs'
import { writeFd } from '../util/index.js'
import type { Readable } from 'node:stream'

export interface PluginIo {
  /** The whole of stdin. */
  read(): Promise<string>
  out(text: string): void
  err(text: string): void
}

function isEagain(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'EAGAIN'
}

function streamChunks(stream: Readable): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => resolve(chunks))
    stream.on('error', reject)
  })
}

/** fd 0 to end of file; what is left when it would block (after some was read, or none) from the stream. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for (;;) {
    const buf = Buffer.allocUnsafe(64 * 1024)
    let n: number
    try {
      n = readSync(0, buf, 0, buf.length, null)
    } catch (err) {
      if (!isEagain(err)) throw err
      chunks.push(...(await streamChunks(process.stdin)))
      break
    }
    if (n === 0) break
    chunks.push(buf.subarray(0, n))
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The process's own stdin, stdout and stderr, by descriptor. */
export const processIo: PluginIo = {
  read: readStdin,
  out: (text) => writeFd(1, text),
  err: (text) => writeFd(2, text),
}

