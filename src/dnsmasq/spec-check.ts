/**
 * The checker the dnsmasq spec's validation shares: issues collected by field, the keys each object may
 * have, and the tests every value written into a config line passes.
 */
import { ipaddr } from '../util/index.js'
import { isHostOf, parseIpv4, type Ipv4Subnet } from './ipv4.js'

export interface Issue {
  field: string
  reason: string
}

const LABEL = '[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
const DNS_NAME = new RegExp(`^${LABEL}(\\.${LABEL})*$`)
export const STATE_DIR = /^\/[A-Za-z0-9._/+-]*$/
const MIN_LEASE = 120
const MAX_LEASE = 365 * 24 * 3600

export const KEYS = {
  spec: ['network', 'interface', 'subnet', 'hostAddress', 'extra', 'dhcp', 'dns', 'stateDir', 'ipv6'],
  extra: ['subnet', 'hostAddress', 'dhcp'],
  ipv6: ['hostAddress', 'prefix', 'router', 'mtu', 'dhcp', 'extra'],
  ipv6Extra: ['hostAddress', 'prefix', 'dhcp'],
  dhcp6: ['range', 'ranges', 'leaseTime', 'hosts'],
  host6: ['id', 'mac', 'ip', 'name', 'leaseTime'],
  dhcp: ['range', 'ranges', 'leaseTime', 'hosts', 'router', 'mtu', 'dnsServer'],
  extraDhcp: ['range', 'ranges', 'leaseTime', 'hosts'],
  range: ['start', 'end', 'leaseTime'],
  host: ['mac', 'ip', 'name', 'leaseTime'],
  dns: ['domain', 'localOnly', 'hosts', 'srv', 'txt', 'forwarders', 'resolvFile'],
  dnsHost: ['name', 'ip'],
  forwarder: ['address', 'domain'],
  srv: ['service', 'protocol', 'domain', 'target', 'port', 'priority', 'weight'],
  txt: ['name', 'value'],
} as const

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function describe(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v)
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}

/** A DNS name: labels of letters, digits and inner hyphens, at most 253 characters. */
export function isDnsName(s: unknown): s is string {
  return typeof s === 'string' && s.length <= 253 && DNS_NAME.test(s)
}

export class Checker {
  readonly issues: Issue[] = []

  bad(field: string, reason: string): void {
    this.issues.push({ field, reason })
  }

  keys(obj: Record<string, unknown>, allowed: readonly string[], at: string): void {
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) this.bad(at ? `${at}.${k}` : k, 'unknown field')
  }

  leaseTime(v: unknown, field: string): void {
    if (v === undefined || v === 'infinite') return
    if (typeof v !== 'number' || !Number.isInteger(v) || v < MIN_LEASE || v > MAX_LEASE) {
      this.bad(field, `must be 'infinite' or whole seconds from ${MIN_LEASE} to ${MAX_LEASE}, got ${describe(v)}`)
    }
  }

  /** A usable host address of the subnet, or records why not. */
  hostAddr(v: unknown, field: string, subnet: Ipv4Subnet | undefined): number | undefined {
    const n = parseIpv4(v)
    if (n === undefined) {
      this.bad(field, `must be an IPv4 address in dotted-quad form, got ${describe(v)}`)
      return undefined
    }
    if (subnet && !isHostOf(subnet, n)) {
      this.bad(field, `${v} is not a host address of the subnet`)
      return undefined
    }
    return n
  }
}

export function isIpAddress(v: unknown): v is string {
  if (typeof v !== 'string') return false
  if (parseIpv4(v) !== undefined) return true
  // A zone index (%eth0) would name an interface of the namespace: not meaningful in a hosts file.
  return !v.includes('%') && !v.includes('.') && ipaddr.IPv6.isValid(v)
}

export function isForwarder(v: unknown): v is string {
  if (typeof v !== 'string') return false
  const [addr, port, ...rest] = v.split('#')
  if (rest.length > 0 || !isIpAddress(addr)) return false
  return port === undefined || (/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)
}
