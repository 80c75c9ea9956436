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
  // With a '/', dots belong to names (an interface 'eth0.100'); without one, dots separate levels.
  const rel = key.includes('/') ? key : key.replace(/\./g, '/')
  const parts = rel.split('/')
  if (rel.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..') || rel.includes('\0'))
    throw new SpecError('key', `'${key}' is not a sysctl key`)
  return `/proc/sys/${rel}`
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

/** The value of a sysctl in `ns`, without its trailing newline. Missing key: SystemError code ENOENT. */
export async function readSysctl(ns: NetnsRef | undefined, key: string): Promise<string> {
  const path = sysctlPath(key)
  const fd = openIn(ns, path, 'r')
  try {
    const buf = Buffer.alloc(4096)
    let len = 0
    for (;;) {
      const n = readSync(fd, buf, len, buf.length - len, null)
      if (n === 0) break
      len += n
      if (len === buf.length) throw new SystemError({ errno: 75, syscall: 'read', path, message: `${path} is longer than ${buf.length} bytes` })
    }
    return buf.toString('utf8', 0, len).replace(/\n$/, '')
  } catch (err) {
    throw asSystemError(err, 'read', path)
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
