/**
 * dnsmasq's lease file: one line per IPv4 lease, `<expiry epoch> <mac> <ip> <hostname|*> <client-id|*>`,
 * rewritten in place whenever a lease changes. An expiry of 0 means an infinite lease. DHCPv6 lines (after
 * a 'duid' line) carry an IAID instead of a MAC and end with the client's DUID.
 */
import { readFile } from 'node:fs/promises'
import { SystemError } from '../errors.js'
import { ipaddr } from '../util/index.js'

export interface Lease {
  /** null for an infinite lease. */
  expiresAt: Date | null
  /** Lower-case, colon separated; for a DHCPv6 lease, taken from the client's DUID when it holds one ('' else). */
  mac: string
  ip: string
  /** 4 for DHCP, 6 for DHCPv6. */
  family: 4 | 6
  /** DHCPv6: the client's DUID and IAID. */
  duid?: string
  iaid?: number
  /** The name the client sent (or its reservation's name). */
  hostname?: string
  clientId?: string
}

const MACLIKE = /^[0-9a-f]{2}(:[0-9a-f]{2})+$/i
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/

/** The MAC inside a DUID-LLT (type 1) or DUID-LL (type 3) of an Ethernet client, else ''. */
export function macOfDuid(duid: string): string {
  const b = duid.toLowerCase().split(':')
  const type = b.slice(0, 2).join('')
  const hw = b.slice(2, 4).join('')
  if (hw !== '0001') return ''
  if (type === '0001' && b.length === 14) return b.slice(8).join(':')
  if (type === '0003' && b.length === 10) return b.slice(4).join(':')
  return ''
}

/**
 * A line's expiry: null for 0 (infinite), undefined for one no Date can hold (a garbage line, skipped: an
 * Invalid Date never expired, so the watcher re-armed its timer every millisecond, and printing it threw).
 */
function expiryOf(field: string): Date | null | undefined {
  const expiry = Number(field)
  if (expiry === 0) return null
  const at = new Date(expiry * 1000)
  return Number.isNaN(at.getTime()) ? undefined : at
}

/** A dotted quad of octets 0-255 (the pattern alone let 999.1.1.1 through). */
const isIpv4 = (s: string): boolean => IPV4.test(s) && s.split('.').every((o) => Number(o) <= 255)

export function parseLeases(text: string): Lease[] {
  const out: Lease[] = []
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/)
    if (f.length >= 4 && /^\d+$/.test(f[0]!) && /^\d+$/.test(f[1]!) && f[2]!.includes(':')) {
      // DHCPv6: <expiry> <iaid> <address> <hostname|*> <client DUID>
      const expiresAt = expiryOf(f[0]!)
      if (expiresAt === undefined || !ipaddr.IPv6.isValid(f[2]!) || f[2]!.includes('%')) continue
      const duid = f[4] && f[4] !== '*' ? f[4].toLowerCase() : undefined
      if (duid !== undefined && !MACLIKE.test(duid)) continue // hex bytes, as dnsmasq writes it: else its MAC would be garbage
      const lease: Lease = { expiresAt, mac: duid ? macOfDuid(duid) : '', ip: f[2]!, family: 6, iaid: Number(f[1]) }
      if (duid) lease.duid = duid
      if (f[3] && f[3] !== '*') lease.hostname = f[3]
      out.push(lease)
      continue
    }
    if (f.length < 4 || !/^\d+$/.test(f[0]!) || !MACLIKE.test(f[1]!) || !isIpv4(f[2]!)) continue
    const expiresAt = expiryOf(f[0]!)
    if (expiresAt === undefined) continue
    const lease: Lease = { expiresAt, mac: f[1]!.toLowerCase(), ip: f[2]!, family: 4 }
    if (f[3] && f[3] !== '*') lease.hostname = f[3]
    if (f[4] && f[4] !== '*') lease.clientId = f[4]
    out.push(lease)
  }
  return out
}

export function isExpired(lease: Lease, now = Date.now()): boolean {
  return lease.expiresAt !== null && lease.expiresAt.getTime() <= now
}

/** Every lease in the file, expired ones included (dnsmasq drops them lazily); [] when there is no file. */
export async function readLeaseFile(path: string): Promise<Lease[]> {
  try {
    return parseLeases(await readFile(path, 'utf8'))
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (e.code === 'ENOENT') return []
    // Typed, as every error kvmnet throws on purpose (a directory in its place, no permission).
    throw typeof e.errno === 'number' ? new SystemError({ errno: e.errno, syscall: 'read', path, cause: err }) : err
  }
}

export function sameLease(a: Lease, b: Lease): boolean {
  return (
    a.mac === b.mac &&
    a.ip === b.ip &&
    a.hostname === b.hostname &&
    a.clientId === b.clientId &&
    (a.expiresAt?.getTime() ?? null) === (b.expiresAt?.getTime() ?? null)
  )
}
