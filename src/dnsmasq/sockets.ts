/**
 * Readiness from the kernel's socket tables: /proc/PID/net/{udp,tcp} list the sockets of PID's network
 * namespace, and /proc/PID/fd says which of them PID holds. Bound sockets are exactly what "ready" means
 * for dnsmasq (it binds, then serves), and unlike a probe query this never adds traffic or log lines.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs'
import { ipaddr } from '../util/index.js'
import { ignoreNotFound } from '../errors.js'

export interface BoundSocket {
  proto: 'udp' | 'tcp'
  /** Dotted quad, or an IPv6 address in its short form; '0.0.0.0' / '::' for a wildcard (a device-bound DHCP socket looks like this too). */
  address: string
  port: number
}

const TCP_LISTEN = '0A'

function hexToIpv4(hex: string): string {
  // /proc prints the address as the host-order (little-endian here) u32.
  const n = parseInt(hex, 16)
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.')
}

function hexToIpv6(hex: string): string {
  // Four host-order u32 words: each one's bytes come reversed.
  const bytes: number[] = []
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8)
    for (let b = 3; b >= 0; b--) bytes.push(parseInt(word.slice(b * 2, b * 2 + 2), 16))
  }
  return ipaddr.fromByteArray(bytes).toString()
}

/** Parse one /proc/net/{udp,tcp}[6] table into socket inode -> bound local address (listening only, for TCP). */
export function parseSocketTable(text: string, proto: 'udp' | 'tcp'): Map<string, BoundSocket> {
  const out = new Map<string, BoundSocket>()
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f.length < 10) continue
    const [addr, port] = (f[1] ?? '').split(':')
    if (!addr || !port || (addr.length !== 8 && addr.length !== 32)) continue
    if (proto === 'tcp' && f[3] !== TCP_LISTEN) continue
    out.set(f[9]!, { proto, address: addr.length === 8 ? hexToIpv4(addr) : hexToIpv6(addr), port: parseInt(port, 16) })
  }
  return out
}

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = ''
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`)
    } catch (err) {
      // Closed between the listing and the read.
      ignoreNotFound(err)
    }
    const m = /^socket:\[(\d+)\]$/.exec(target)
    if (m) inodes.add(m[1]!)
  }
  return inodes
}

/** IPv4 UDP sockets and listening TCP sockets that `pid` holds. Throws ENOENT when the process is gone. */
export async function boundSockets(pid: number): Promise<BoundSocket[]> {
  // The IPv6 tables exist only where the kernel has IPv6.
  // Synchronously: /proc never waits for a disk, and asynchronously each file is four trips through the
  // thread pool, every poll, with the event loop busy with the apply's other steps in between (the
  // readiness of a network's dnsmasq was seen milliseconds after it was there).
  const v6 = (name: string): string => {
    try {
      return readFileSync(`/proc/${pid}/net/${name}`, 'utf8')
    } catch (err) {
      ignoreNotFound(err)
      return ''
    }
  }
  const inodes = socketInodes(pid)
  const [udp, tcp, udp6, tcp6] = [readFileSync(`/proc/${pid}/net/udp`, 'utf8'), readFileSync(`/proc/${pid}/net/tcp`, 'utf8'), v6('udp6'), v6('tcp6')]
  const out: BoundSocket[] = []
  for (const table of [parseSocketTable(udp, 'udp'), parseSocketTable(tcp, 'tcp'), parseSocketTable(udp6, 'udp'), parseSocketTable(tcp6, 'tcp')]) {
    for (const [inode, s] of table) if (inodes.has(inode)) out.push(s)
  }
  return out
}

/** Sockets that must all be bound before dnsmasq counts as ready. */
export function expectedSockets(opts: { hostAddress?: string | undefined; hostAddress6?: string | undefined; dhcp: boolean; dns: boolean }): BoundSocket[] {
  const want: BoundSocket[] = []
  if (opts.dhcp) want.push({ proto: 'udp', address: '0.0.0.0', port: 67 })
  // An IPv6-only network: DNS on its IPv6 address.
  if (opts.dns && opts.hostAddress === undefined && opts.hostAddress6 !== undefined) {
    const a = ipaddr.parse(opts.hostAddress6).toString()
    want.push({ proto: 'udp', address: a, port: 53 }, { proto: 'tcp', address: a, port: 53 })
  }
  if (opts.dns && opts.hostAddress !== undefined) want.push({ proto: 'udp', address: opts.hostAddress, port: 53 }, { proto: 'tcp', address: opts.hostAddress, port: 53 })
  return want
}

export function missingSockets(have: readonly BoundSocket[], want: readonly BoundSocket[]): BoundSocket[] {
  return want.filter((w) => !have.some((h) => h.proto === w.proto && h.address === w.address && h.port === w.port))
}
