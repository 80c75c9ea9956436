/**
 * Runs nft inside a namespace: a transaction of any size is one nft command and one netlink batch; nft's
 * error text is kept verbatim in NftError. In process through libnftables (./libnftables.ts) where it can
 * be loaded; else, and with `backend: 'process'`, as the nft program, as described below.
 *
 * The document is passed as nft's argument (nft parses a JSON buffer exactly like a JSON file), not on
 * stdin: for JSON, `nft -j -f -` opens the path /dev/stdin, which fails with ENXIO when stdin is a socket,
 * and a socket is what Node gives a child for 'pipe'. Linux caps one argument at 128 KiB (MAX_ARG_STRLEN),
 * so a larger document (say, big port maps) goes through a private temporary file instead.
 */
import { randomBytes } from 'node:crypto'
import { rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NftError } from '../errors.js'
import { nsCommand } from '../netns/index.js'
import type { NetnsRef } from '../netns/index.js'
import type { NftDocument, NftListing } from './json.js'
import { runProgram } from '../util/index.js'
import { fallbackWarning, libnftablesPath, libnftablesUnavailable, noteFallback, runInProcess, type NftFallbackWarning } from './libnftables.js'

export interface NftRunOptions {
  /**
   * 'auto' (default): libnftables in process, else the nft program with a warning; 'libnftables': in
   * process or NftError; 'process': always the nft program (what a set `nftPath` implies too).
   */
  backend?: 'auto' | 'libnftables' | 'process'
  /** Called each time 'auto' runs the nft program because libnftables cannot be loaded. */
  onFallback?: (w: NftFallbackWarning) => void
  /** The nft binary (default 'nft', found on PATH). */
  nftPath?: string
  /** The nft program only: kill it after this many ms (default 30 000), so a wedged nft cannot hang an apply. */
  timeoutMs?: number
}

/** Whether this call runs in process; throws for a 'libnftables' backend that cannot be loaded. */
function inProcess(opts: NftRunOptions): boolean {
  const backend = opts.backend ?? (opts.nftPath !== undefined ? 'process' : 'auto')
  if (backend === 'process') return false
  const path = libnftablesPath()
  const why = libnftablesUnavailable(path)
  if (why === undefined) return true
  if (backend === 'libnftables') throw new NftError({ exitCode: undefined, stderr: '', message: `libnftables (${path}) cannot be loaded: ${why}` })
  const w = fallbackWarning(path, why)
  noteFallback(w)
  opts.onFallback?.(w)
  return false
}

/** Leaves room under MAX_ARG_STRLEN (131 072 bytes). */
const MAX_ARGV_BYTES = 120_000

export async function nftApply(ns: NetnsRef | undefined, doc: NftDocument, opts: NftRunOptions = {}): Promise<void> {
  const text = JSON.stringify(doc)
  if (inProcess(opts)) {
    // No argv limit in process: a document of any size is one buffer.
    await runInProcess(ns, text)
    return
  }
  if (Buffer.byteLength(text) <= MAX_ARGV_BYTES) {
    await nftRun(ns, ['-j', text], opts)
    return
  }
  const file = join(tmpdir(), `kvmnet-nft-${process.pid}-${randomBytes(6).toString('hex')}.json`)
  // 'wx': never follow or reuse something another user planted under that name in a shared /tmp.
  await writeFile(file, text, { flag: 'wx', mode: 0o600 })
  try {
    await nftRun(ns, ['-j', '-f', file], opts)
  } finally {
    await rm(file, { force: true })
  }
}

/**
 * Starts the namespace's libnftables thread and its context now, with an empty command (it fetches nothing
 * and changes nothing), for a transaction that follows soon. A thread starts afresh after a `down` released
 * it (it holds the namespace), and its first command paid the thread's start and its context's making,
 * ~3 ms of every `up`'s first transaction measured: warmed while the apply's first checks run, that is off
 * the apply's path. Nothing to do when the nft program runs instead.
 */
export async function nftWarm(ns: NetnsRef | undefined, opts: NftRunOptions = {}): Promise<void> {
  if (inProcess(opts)) await runInProcess(ns, '')
}

/** `nft -j <args>` and its parsed JSON output. */
export async function nftQuery(ns: NetnsRef | undefined, args: readonly string[], opts: NftRunOptions = {}): Promise<NftListing> {
  // In process the words are one buffer, as nft joins its arguments: kvmnet's names need no quoting.
  const out = inProcess(opts) ? await runInProcess(ns, args.join(' ')) : await nftRun(ns, ['-j', ...args], opts)
  if (out.trim() === '') return { nftables: [] }
  try {
    return JSON.parse(out) as NftDocument
  } catch (cause) {
    throw new NftError({ exitCode: 0, stderr: '', message: `nft -j ${args.join(' ')} printed invalid JSON`, cause })
  }
}

async function nftRun(ns: NetnsRef | undefined, args: string[], opts: NftRunOptions): Promise<string> {
  const { file, args: argv } = nsCommand(ns, opts.nftPath ?? 'nft', args)
  const r = await runProgram(file, argv, { timeoutMs: opts.timeoutMs ?? 30_000, env: { LC_ALL: 'C' } })
  if (r.exitCode !== 0) {
    const what = args[1]?.startsWith('{') ? 'nft -j <document>' : `nft ${args.join(' ')}`
    if (r.exitCode === undefined) {
      // Never ran or was killed: the reason is ours (ENOENT, timeout), not nft's.
      const why = r.timedOut ? `killed after ${opts.timeoutMs ?? 30_000} ms` : (r.error?.message ?? `killed by ${r.signal}`)
      throw new NftError({ exitCode: undefined, stderr: r.stderr, message: `${what}: ${why}`, cause: r.error })
    }
    throw new NftError({ exitCode: r.exitCode, stderr: r.stderr })
  }
  return r.stdout
}
