/**
 * Validation of a dnsmasq spec's DHCP (IPv4 and IPv6): ranges inside the subnet, reservations unique.
 * Every value ends up in a dhcp-range or dhcp-host line, so this is also the injection guard.
 */
import { ipaddr } from '../util/index.js'
import { DUID_PATTERN, isMac } from '../util/index.js'
import type { Ipv4Subnet } from './ipv4.js'
import { Checker, KEYS, describe, isDnsName, isObject } from './spec-check.js'

/** `range` (a pair) or `ranges` (objects), not both; neither: reservations only, which then must exist. */
function rangeList(c: Checker, dhcp: Record<string, unknown>, at: string): { start: unknown; end: unknown; s: string; e: string; field: string }[] {
  if (dhcp.range !== undefined && dhcp.ranges !== undefined) c.bad(`${at}.ranges`, 'give range or ranges, not both')
  if (dhcp.range !== undefined) {
    if (!Array.isArray(dhcp.range) || dhcp.range.length !== 2) {
      c.bad(`${at}.range`, 'must be [first, last]')
      return []
    }
    return [{ start: dhcp.range[0], end: dhcp.range[1], s: `${at}.range[0]`, e: `${at}.range[1]`, field: `${at}.range` }]
  }
  if (dhcp.ranges === undefined) {
    if (!Array.isArray(dhcp.hosts) || dhcp.hosts.length === 0) c.bad(`${at}.hosts`, 'DHCP without a range serves reservations only: needs hosts')
    return []
  }
  if (!Array.isArray(dhcp.ranges) || dhcp.ranges.length === 0) {
    c.bad(`${at}.ranges`, 'must be a non-empty array')
    return []
  }
  return dhcp.ranges.flatMap((r: unknown, i: number) => {
    const field = `${at}.ranges[${i}]`
    if (!isObject(r)) {
      c.bad(field, 'must be an object')
      return []
    }
    c.keys(r, KEYS.range, field)
    c.leaseTime(r.leaseTime, `${field}.leaseTime`)
    return [{ start: r.start, end: r.end, s: `${field}.start`, e: `${field}.end`, field }]
  })
}

export function checkDhcp6(c: Checker, dhcp: unknown, prefix: [ipaddr.IPv6, number] | undefined, at: string): void {
  if (!isObject(dhcp)) return c.bad(at, 'must be an object')
  c.keys(dhcp, KEYS.dhcp6, at)
  const addr = (v: unknown, field: string) => {
    if (typeof v !== 'string' || !ipaddr.IPv6.isValid(v) || v.includes('%')) return c.bad(field, `must be an IPv6 address, got ${describe(v)}`)
    if (prefix && !ipaddr.IPv6.parse(v).match(prefix)) c.bad(field, `${v} is outside the prefix`)
  }
  for (const r of rangeList(c, dhcp, at)) {
    addr(r.start, r.s)
    addr(r.end, r.e)
  }
  c.leaseTime(dhcp.leaseTime, `${at}.leaseTime`)
  if (dhcp.hosts === undefined) return
  if (!Array.isArray(dhcp.hosts)) return c.bad(`${at}.hosts`, 'must be an array')
  dhcp.hosts.forEach((h: unknown, i: number) => {
    const field = `${at}.hosts[${i}]`
    if (!isObject(h)) return c.bad(field, 'must be an object')
    c.keys(h, KEYS.host6, field)
    addr(h.ip, `${field}.ip`)
    if (h.id !== undefined && (typeof h.id !== 'string' || !DUID_PATTERN.test(h.id))) c.bad(`${field}.id`, `must be a DUID in hex, got ${describe(h.id)}`)
    if (h.mac !== undefined && (typeof h.mac !== 'string' || !isMac(h.mac))) c.bad(`${field}.mac`, `must be a MAC, got ${describe(h.mac)}`)
    if (h.id === undefined && h.mac === undefined) c.bad(field, 'needs id or mac')
    if (h.name !== undefined && !isDnsName(h.name)) c.bad(`${field}.name`, `must be a DNS name, got ${describe(h.name)}`)
    c.leaseTime(h.leaseTime, `${field}.leaseTime`)
  })
}

export function checkDhcp(c: Checker, dhcp: unknown, subnet: Ipv4Subnet | undefined, host: number | undefined, where: string, keys: readonly string[]): void {
  if (!isObject(dhcp)) return c.bad(where, 'must be an object')
  c.keys(dhcp, keys, where)
  for (const r of rangeList(c, dhcp, where)) {
    const first = c.hostAddr(r.start, r.s, subnet)
    const last = c.hostAddr(r.end, r.e, subnet)
    if (first !== undefined && last !== undefined) {
      if (first > last) c.bad(r.field, `${String(r.start)} comes after ${String(r.end)}`)
      else if (host !== undefined && host >= first && host <= last) c.bad(r.field, 'includes the host address')
    }
  }
  c.leaseTime(dhcp.leaseTime, `${where}.leaseTime`)
  if (dhcp.router !== undefined && dhcp.router !== false) c.hostAddr(dhcp.router, `${where}.router`, subnet)
  if (dhcp.mtu !== undefined && (typeof dhcp.mtu !== 'number' || !Number.isInteger(dhcp.mtu) || dhcp.mtu < 68 || dhcp.mtu > 65535)) {
    c.bad(`${where}.mtu`, `must be an integer from 68 to 65535, got ${describe(dhcp.mtu)}`)
  }
  if (dhcp.dnsServer !== undefined) c.hostAddr(dhcp.dnsServer, `${where}.dnsServer`, undefined)
  if (dhcp.hosts === undefined) return
  if (!Array.isArray(dhcp.hosts)) return c.bad(`${where}.hosts`, 'must be an array')
  const macs = new Map<string, number>()
  const ips = new Map<number, number>()
  const names = new Map<string, number>()
  dhcp.hosts.forEach((h: unknown, i: number) => {
    const at = `${where}.hosts[${i}]`
    if (!isObject(h)) return c.bad(at, 'must be an object')
    c.keys(h, KEYS.host, at)
    if (typeof h.mac !== 'string' || !isMac(h.mac)) {
      c.bad(`${at}.mac`, `must be a MAC like 52:54:00:12:34:56, got ${describe(h.mac)}`)
    } else if (parseInt(h.mac.slice(0, 2), 16) & 1) {
      c.bad(`${at}.mac`, `${h.mac} is a multicast address`)
    } else if (/^(00:){5}00$/.test(h.mac)) {
      c.bad(`${at}.mac`, 'the all-zero MAC is not a NIC address')
    } else {
      const key = h.mac.toLowerCase()
      const prev = macs.get(key)
      if (prev !== undefined) c.bad(`${at}.mac`, `${h.mac} is already reserved by ${where}.hosts[${prev}]`)
      else macs.set(key, i)
    }
    const ip = c.hostAddr(h.ip, `${at}.ip`, subnet)
    if (ip !== undefined) {
      const prev = ips.get(ip)
      if (ip === host) c.bad(`${at}.ip`, 'is the host address')
      else if (prev !== undefined) c.bad(`${at}.ip`, `${h.ip} is already reserved by ${where}.hosts[${prev}]`)
      else ips.set(ip, i)
    }
    if (h.name !== undefined) {
      if (!isDnsName(h.name)) c.bad(`${at}.name`, `must be a host name (letters, digits, inner hyphens, dots), got ${describe(h.name)}`)
      else {
        const key = h.name.toLowerCase()
        const prev = names.get(key)
        if (prev !== undefined) c.bad(`${at}.name`, `${h.name} is already used by ${where}.hosts[${prev}]`)
        else names.set(key, i)
      }
    }
    c.leaseTime(h.leaseTime, `${at}.leaseTime`)
  })
}
