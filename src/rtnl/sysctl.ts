/**
 * Sysctls of a namespace. /proc/sys/net shows the namespace of whoever opens the file, so the file is
 * opened with the thread inside the namespace (read and written after switching back, through the fd).
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs'
import { NotFoundError, SpecError, SystemError } from '../errors.js'
import { native } from '../native/index.js'
import type { NetnsRef } from '../netns/index.js'

/** 'net/ipv4/ip_forward' or 'net.ipv4.ip_forward' → the path under /proc/sys. */
export function sysctlPath(key: string): string {
  if (typeof key !== 'string' || key === '') throw new SpecError('key', 'must be a non-empty sysctl key')
  if (!isSysctlKey(key)) throw new SpecError('key', `'${key}' is not a sysctl key`)
  return `/proc/sys/${relativeKey(key)}`
}

// With a '/', dots belong to names (an interface 'eth0.100'); without one, dots separate levels.
const relativeKey = (key: string): string => (key.includes('/') ? key : key.replace(/\./g, '/'))

/** A key naming a file under /proc/sys: no empty, '.' or '..' part, no leading '/', no NUL. */
export function isSysctlKey(key: string): boolean {
  const rel = relativeKey(key)
  return key !== '' && !rel.startsWith('/') && !rel.split('/').some((p) => p === '' || p === '.' || p === '..') && !rel.includes('\0')
}

function openIn(ns: NetnsRef | undefined, path: string, flags: 'r' | 'w'): number {
  const open = (): number => {
    try {
      return openSync(path, flags)
    } catch (err) {
      throw asSystemError(err, 'open', path)
    }
  }
  return ns && !ns.isCurrent ? native.withNetns(ns.path, open) : open()
}

function asSystemError(err: unknown, syscall: string, path: string): unknown {
  const e = err as NodeJS.ErrnoException
  if (typeof e?.errno !== 'number') return err
  return new SystemError({ errno: e.errno, syscall, path, message: `${syscall} ${path}: ${e.code ?? e.errno}`, cause: err })
}

/**
 * Each path opened in `ns` with one switch into the namespace and back, not a switch per file: a failed
 * open leaves its error in its place (the caller closes the fds it got).
 */
function openEachIn(ns: NetnsRef | undefined, paths: readonly string[], flags: 'r' | 'w'): (number | Error)[] {
  const open = (): (number | Error)[] =>
    paths.map((path) => {
      try {
        return openSync(path, flags)
      } catch (err) {
        const e = asSystemError(err, 'open', path)
        return e instanceof Error ? e : new Error(String(e))
      }
    })
  return ns && !ns.isCurrent ? native.withNetns(ns.path, open) : open()
}

/** The whole value at `fd` from its start (pread: the same fd reads again), without its trailing newline. */
function readValue(fd: number, path: string): string {
  try {
    const buf = Buffer.alloc(4096)
    let len = 0
    for (;;) {
      const n = readSync(fd, buf, len, buf.length - len, len)
      if (n === 0) break
      len += n
      if (len === buf.length) throw new SystemError({ errno: 75, syscall: 'read', path, message: `${path} is longer than ${buf.length} bytes` })
    }
    return buf.toString('utf8', 0, len).replace(/\n$/, '')
  } catch (err) {
    throw asSystemError(err, 'read', path)
  }
}

/** The value of a sysctl in `ns`, without its trailing newline. Missing key: SystemError code ENOENT. */
export async function readSysctl(ns: NetnsRef | undefined, key: string): Promise<string> {
  const path = sysctlPath(key)
  const fd = openIn(ns, path, 'r')
  try {
    return readValue(fd, path)
  } finally {
    closeSync(fd)
  }
}

export async function writeSysctl(ns: NetnsRef | undefined, key: string, value: string | number): Promise<void> {
  const path = sysctlPath(key)
  const fd = openIn(ns, path, 'w')
  try {
    writeSync(fd, String(value))
  } catch (err) {
    throw asSystemError(err, 'write', path)
  } finally {
    closeSync(fd)
  }
}

/** Several sysctls of a namespace held open for reading: read now, and again later without entering it. */
export interface SysctlReader {
  /** The current value of each key, in order (read through the same fds each time). */
  read(): string[]
  close(): void
}

/**
 * `keys` of `ns` opened for reading with one switch into the namespace. A key that cannot be opened
 * throws, as readSysctl does (missing key: SystemError code ENOENT), with nothing left open.
 */
export function openSysctls(ns: NetnsRef | undefined, keys: readonly string[]): SysctlReader {
  const paths = keys.map(sysctlPath)
  const opened = openEachIn(ns, paths, 'r')
  const fds = opened.filter((f): f is number => typeof f === 'number')
  const failed = opened.find((f): f is Error => typeof f !== 'number')
  const close = (): void => {
    for (const fd of fds.splice(0)) closeSync(fd)
  }
  if (failed) {
    close()
    throw failed
  }
  return { read: () => fds.map((fd, i) => readValue(fd, paths[i]!)), close }
}

/**
 * Each `[key, value]` written in order, every file opened with one switch into `ns` (the writes
 * themselves need not be made inside it: the fd is the namespace's). Stops at the first failure and
 * throws it, as one writeSysctl after another would; with `missingOk`, a key that does not exist (a
 * per-interface key whose interface is gone) is passed over. Returns the keys written.
 */
export function writeSysctls(ns: NetnsRef | undefined, entries: readonly (readonly [string, string])[], opts: { missingOk?: boolean } = {}): string[] {
  if (entries.length === 0) return []
  const paths = entries.map(([key]) => sysctlPath(key))
  const opened = openEachIn(ns, paths, 'w')
  const written: string[] = []
  try {
    for (const [i, f] of opened.entries()) {
      if (typeof f !== 'number') {
        if (opts.missingOk && (f as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw f
      }
      try {
        writeSync(f, entries[i]![1])
      } catch (err) {
        throw asSystemError(err, 'write', paths[i]!)
      }
      written.push(entries[i]![0])
    }
    return written
  } finally {
    for (const f of opened) if (typeof f === 'number') closeSync(f)
  }
}

/** Keys kvmnet uses, by name. Per-interface ones take the interface ('all' and 'default' work too). */
export const sysctlKeys = {
  ipForward: 'net/ipv4/ip_forward',
  ipv6Forwarding: (dev = 'all'): string => `net/ipv6/conf/${dev}/forwarding`,
  routeLocalnet: (dev: string): string => `net/ipv4/conf/${dev}/route_localnet`,
  proxyArp: (dev: string): string => `net/ipv4/conf/${dev}/proxy_arp`,
  acceptRa: (dev: string): string => `net/ipv6/conf/${dev}/accept_ra`,
  disableIpv6: (dev: string): string => `net/ipv6/conf/${dev}/disable_ipv6`,
  bridgeNfCallIptables: 'net/bridge/bridge-nf-call-iptables',
} as const

const flag = (on: boolean): string => (on ? '1' : '0')

export function setIpForward(ns: NetnsRef | undefined, on: boolean): Promise<void> {
  return writeSysctl(ns, sysctlKeys.ipForward, flag(on))
}

export function setRouteLocalnet(ns: NetnsRef | undefined, dev: string, on: boolean): Promise<void> {
  return writeSysctl(ns, sysctlKeys.routeLocalnet(dev), flag(on))
}

export function setProxyArp(ns: NetnsRef | undefined, dev: string, on: boolean): Promise<void> {
  return writeSysctl(ns, sysctlKeys.proxyArp(dev), flag(on))
}

/** 0: ignore router advertisements, 1: accept unless forwarding, 2: accept even when forwarding. */
export function setAcceptRa(ns: NetnsRef | undefined, dev: string, value: 0 | 1 | 2): Promise<void> {
  if (value !== 0 && value !== 1 && value !== 2) throw new SpecError('acceptRa', 'must be 0, 1 or 2')
  return writeSysctl(ns, sysctlKeys.acceptRa(dev), String(value))
}

function brNetfilterMissing(err: unknown): never {
  if ((err as { code?: string }).code === 'ENOENT')
    throw new NotFoundError('br_netfilter', 'net.bridge.bridge-nf-call-iptables does not exist: the br_netfilter module is not loaded (modprobe br_netfilter)')
  throw err
}

/** undefined when br_netfilter is not loaded (the key then does not exist in any namespace). */
export async function readBridgeNfCallIptables(ns: NetnsRef | undefined): Promise<boolean | undefined> {
  try {
    return (await readSysctl(ns, sysctlKeys.bridgeNfCallIptables)) === '1'
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined
    throw err
  }
}

/** NotFoundError('br_netfilter') when the module is not loaded. */
export async function setBridgeNfCallIptables(ns: NetnsRef | undefined, on: boolean): Promise<void> {
  await writeSysctl(ns, sysctlKeys.bridgeNfCallIptables, flag(on)).catch(brNetfilterMissing)
}
