/**
 * nftables in process: kvmnet's JSON documents run through libnftables (loaded by the addon at run time),
 * on a thread that lives in the network's namespace, instead of an `nsenter … nft -j` child per change.
 * Where the library cannot be loaded, run.ts falls back to the nft program and says so once.
 *
 * KVMNET_LIBNFTABLES names the library to load (default libnftables.so.1, Debian's libnftables1); a path
 * that does not exist forces the fallback (tests, or a host whose library misbehaves).
 */
import { NftError } from '../errors.js'
import { loadBindingIfPossible, native, type NativeNftResult } from '../native/index.js'
import type { NetnsRef } from '../netns/index.js'

export const LIBNFTABLES_ENV = 'KVMNET_LIBNFTABLES'
export const DEFAULT_LIBNFTABLES = 'libnftables.so.1'

/** The 'warning' kvmnet gives when it runs the nft program because libnftables cannot be loaded. */
export interface NftFallbackWarning {
  code: 'libnftables-unavailable'
  /** The library that could not be loaded. */
  object: string
  message: string
  fix: string
}

/** The library to load: $KVMNET_LIBNFTABLES, else libnftables.so.1. */
export function libnftablesPath(env: NodeJS.ProcessEnv = process.env): string {
  const v = env[LIBNFTABLES_ENV]
  return v !== undefined && v !== '' ? v : DEFAULT_LIBNFTABLES
}

export function fallbackWarning(path: string, why: string): NftFallbackWarning {
  return {
    code: 'libnftables-unavailable',
    object: path,
    message: `libnftables cannot be loaded (${why}): kvmnet runs the nft program instead, a process for every firewall change and read`,
    fix: path === DEFAULT_LIBNFTABLES ? 'install libnftables1 (Debian/Ubuntu; nftables-libs or libnftables elsewhere)' : `unset ${LIBNFTABLES_ENV} or point it at libnftables.so.1`,
  }
}

/** Whether libnftables is usable, per library path (the env may change between calls: tests do). */
const loaded = new Map<string, string | undefined>()

/** undefined when libnftables is loaded and usable; else why not. */
export function libnftablesUnavailable(path: string = libnftablesPath()): string | undefined {
  if (loaded.has(path)) return loaded.get(path)
  let why: string | undefined
  try {
    why = native.nftLoad(path) ?? undefined
  } catch (err) {
    // No addon for this platform (or a broken one): the nft program still works.
    why = err instanceof Error ? err.message : String(err)
  }
  loaded.set(path, why)
  return why
}

/** Loads begun by preloadLibnftables, per library path. */
const preloading = new Map<string, Promise<void>>()

/**
 * Begins loading libnftables on the libuv pool, for a caller that will run nft soon and has work of its
 * own to do meanwhile (kvmnet-cni's ADD with port mappings: the dlopen was ~2-3 ms of its event loop's
 * thread). The first command's libnftablesUnavailable then finds it loaded, or waits in the addon (one
 * mutex) for the rest of the load. Nothing happens when the addon cannot load or predates the async load.
 */
export function preloadLibnftables(path: string = libnftablesPath()): void {
  if (loaded.has(path) || preloading.has(path)) return
  const load = loadBindingIfPossible()?.nftLoadAsync
  if (typeof load !== 'function') return
  const settle = (why: string | undefined) => {
    if (!loaded.has(path)) loaded.set(path, why)
  }
  // A rejection is the same answer the synchronous load gives (its text is why libnftables is unusable).
  preloading.set(path, load(path).then((why) => settle(why ?? undefined), (err: unknown) => settle(err instanceof Error ? err.message : String(err))))
}

type FallbackListener = (w: NftFallbackWarning) => void
const listeners = new Set<FallbackListener>()
const told = new Set<string>()

/**
 * Process-wide: `listener` hears the first fallback to the nft program (once per process and library
 * path). The CLIs print it as one stderr line; a Network emits its own 'warning' event as well.
 */
export function onNftFallback(listener: FallbackListener): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

/** Tells the process-wide listeners, once per library path. */
export function noteFallback(w: NftFallbackWarning): void {
  if (told.has(w.object)) return
  told.add(w.object)
  for (const l of listeners) l(w)
}

/** The path of a namespace for the addon: the current one is this process's own. */
function nsPathOf(ns: NetnsRef | undefined): string {
  return !ns || ns.isCurrent ? '/proc/self/ns/net' : ns.path
}

/** NftError for a failed command, as the nft program would have failed (it exits 1, the text on stderr). */
export function nftErrorOf(r: NativeNftResult): NftError | undefined {
  if (r.rc === 0) return undefined
  return new NftError({ exitCode: 1, stderr: r.error })
}

/** Runs one command (a JSON document, or `list ...` words) in the namespace; its output on success. */
export async function runInProcess(ns: NetnsRef | undefined, command: string): Promise<string> {
  const r = await native.nftRun(nsPathOf(ns), command)
  const err = nftErrorOf(r)
  if (err) throw err
  return r.output
}

/** Lets the namespace's nft thread go (it holds the namespace alive while it lives). */
export function releaseInProcess(ns: NetnsRef | undefined): void {
  if (loaded.size === 0 || [...loaded.values()].every((why) => why !== undefined)) return
  native.nftRelease(nsPathOf(ns))
}
