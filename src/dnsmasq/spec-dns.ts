/**
 * Validation of a dnsmasq spec's DNS: names, records and forwarders. Every value ends up in a config line
 * (server=, srv-host=, txt-record=) or a hosts file, so this is also the injection guard.
 */
import { Checker, KEYS, STATE_DIR, describe, isDnsName, isForwarder, isIpAddress, isObject } from './spec-check.js'

export function checkDns(c: Checker, dns: unknown): void {
  if (!isObject(dns)) return c.bad('dns', 'must be an object or false')
  c.keys(dns, KEYS.dns, 'dns')
  if (dns.domain !== undefined && !isDnsName(dns.domain)) {
    c.bad('dns.domain', `must be a domain name like lab.example, got ${describe(dns.domain)}`)
  }
  if (dns.hosts !== undefined) {
    if (!Array.isArray(dns.hosts)) c.bad('dns.hosts', 'must be an array')
    else {
      const seen = new Map<string, number>()
      dns.hosts.forEach((h: unknown, i: number) => {
        const at = `dns.hosts[${i}]`
        if (!isObject(h)) return c.bad(at, 'must be an object')
        c.keys(h, KEYS.dnsHost, at)
        if (!isDnsName(h.name)) c.bad(`${at}.name`, `must be a host name, got ${describe(h.name)}`)
        if (!isIpAddress(h.ip)) c.bad(`${at}.ip`, `must be an IPv4 or IPv6 address, got ${describe(h.ip)}`)
        else if (typeof h.name === 'string') {
          const key = `${h.name.toLowerCase()} ${h.ip}`
          const prev = seen.get(key)
          if (prev !== undefined) c.bad(at, `duplicates dns.hosts[${prev}]`)
          else seen.set(key, i)
        }
      })
    }
  }
  if (dns.resolvFile !== undefined && (typeof dns.resolvFile !== 'string' || !STATE_DIR.test(dns.resolvFile) || dns.resolvFile.split('/').includes('..'))) {
    c.bad('dns.resolvFile', `must be an absolute path of letters, digits and ._/+- without '..', got ${describe(dns.resolvFile)}`)
  }
  if (dns.forwarders !== undefined) {
    if (!Array.isArray(dns.forwarders)) c.bad('dns.forwarders', 'must be an array')
    else dns.forwarders.forEach((f: unknown, i: number) => checkForwarder(c, f, `dns.forwarders[${i}]`))
  }
  if (dns.localOnly !== undefined && typeof dns.localOnly !== 'boolean') c.bad('dns.localOnly', 'must be true or false')
  list(c, dns.srv, 'dns.srv', checkSrv)
  list(c, dns.txt, 'dns.txt', checkTxt)
}

function list(c: Checker, v: unknown, at: string, each: (c: Checker, item: Record<string, unknown>, at: string) => void): void {
  if (v === undefined) return
  if (!Array.isArray(v)) return c.bad(at, 'must be an array')
  v.forEach((item: unknown, i: number) => {
    if (!isObject(item)) c.bad(`${at}[${i}]`, 'must be an object')
    else each(c, item, `${at}[${i}]`)
  })
}

function checkForwarder(c: Checker, f: unknown, at: string): void {
  if (typeof f === 'string') {
    if (!isForwarder(f)) c.bad(at, `must be an IP address, optionally with #port, got ${describe(f)}`)
    return
  }
  if (!isObject(f)) return c.bad(at, `must be an IP address or { address, domain }, got ${describe(f)}`)
  c.keys(f, KEYS.forwarder, at)
  if (f.address === undefined && f.domain === undefined) c.bad(at, 'needs address, domain or both')
  if (f.address !== undefined && !isForwarder(f.address)) c.bad(`${at}.address`, `must be an IP address, optionally with #port, got ${describe(f.address)}`)
  if (f.domain !== undefined && !isDnsName(f.domain)) c.bad(`${at}.domain`, `must be a domain name, got ${describe(f.domain)}`)
}

const SERVICE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/

function checkSrv(c: Checker, r: Record<string, unknown>, at: string): void {
  c.keys(r, KEYS.srv, at)
  if (typeof r.service !== 'string' || !SERVICE.test(r.service)) c.bad(`${at}.service`, `must be one DNS label like ldap, got ${describe(r.service)}`)
  if (r.protocol !== 'tcp' && r.protocol !== 'udp') c.bad(`${at}.protocol`, `must be 'tcp' or 'udp', got ${describe(r.protocol)}`)
  for (const k of ['domain', 'target'] as const) {
    if (r[k] !== undefined && !isDnsName(r[k])) c.bad(`${at}.${k}`, `must be a DNS name, got ${describe(r[k])}`)
  }
  // srv-host is positional: each number needs the one before it (port needs a target, weight a priority).
  const order = ['target', 'port', 'priority', 'weight'] as const
  order.forEach((k, i) => {
    const v = r[k]
    if (v === undefined) return
    if (k !== 'target' && (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535)) c.bad(`${at}.${k}`, `must be an integer 0-65535, got ${describe(v)}`)
    const before = order[i - 1]
    if (before !== undefined && r[before] === undefined) c.bad(`${at}.${k}`, `needs ${before}`)
  })
}

/** A TXT value goes into a quoted config value: printable ASCII only, so it can add no line or option. */
function checkTxt(c: Checker, r: Record<string, unknown>, at: string): void {
  c.keys(r, KEYS.txt, at)
  if (!isDnsName(r.name)) c.bad(`${at}.name`, `must be a DNS name, got ${describe(r.name)}`)
  if (typeof r.value !== 'string' || !/^[\x20-\x7e]{0,255}$/.test(r.value)) c.bad(`${at}.value`, `must be printable ASCII of at most 255 characters, got ${describe(r.value)}`)
}
