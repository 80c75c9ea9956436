/**
 * The checks a test asks the guest to run, validated on the host and carried to the guest on the
 * kernel command line (`kvmnet.ping=...`, `kvmnet.tcp=...`), which keeps one cached image for every test.
 */
import { isIP } from 'node:net'
import { SpecError } from '../../../src/errors.js'

export interface GuestChecks {
  /** Addresses the guest must ping once it has a lease. */
  ping?: string[]
  /** TCP endpoints the guest must be able to connect to. */
  tcp?: Array<{ host: string; port: number }>
  /**
   * Wait (up to this many seconds) for the kernel to configure a global IPv6 address by SLAAC from the
   * network's router advertisements, and report it; `ping` entries that are IPv6 addresses go out then.
   */
  slaac?: number
  /** A static address (CIDR) instead of DHCP, for networks with no DHCP server. */
  address?: string
  /** A TCP port the guest listens on (so other guests can check it) while it runs. */
  listen?: number
  /** A TCP port where the guest reads and discards what is sent to it (a download), while it runs. */
  sink?: number
  /** A TCP port where the guest sends zeros to whoever connects (an upload), while it runs. */
  source?: number
  /**
   * Seconds the checks keep retrying (another guest booting beside this one may not be up yet), and
   * the guest stays up after its checks, so that its peers' checks can reach it. Default 0.
   */
  waitForPeers?: number
}

/** Kernel command-line words for `checks`; throws SpecError naming the bad field before anything runs. */
export function checksCmdline(checks: GuestChecks, field = 'checks'): string[] {
  const words: string[] = []
  const ping = checks.ping ?? []
  ping.forEach((ip, i) => {
    if (isIP(ip) === 0) throw new SpecError(`${field}.ping[${i}]`, `not an IP address: ${JSON.stringify(ip)}`)
  })
  if (ping.length > 0) words.push(`kvmnet.ping=${ping.join(',')}`)
  const tcp = checks.tcp ?? []
  tcp.forEach((t, i) => {
    if (isIP(t.host) === 0) throw new SpecError(`${field}.tcp[${i}].host`, `not an IP address: ${JSON.stringify(t.host)}`)
    if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) {
      throw new SpecError(`${field}.tcp[${i}].port`, `not a port (1-65535): ${JSON.stringify(t.port)}`)
    }
  })
  // host/port: the slash cannot appear in an IPv6 literal, unlike a colon.
  if (tcp.length > 0) words.push(`kvmnet.tcp=${tcp.map((t) => `${t.host}/${t.port}`).join(',')}`)
  if (checks.address !== undefined) {
    const [ip, len] = checks.address.split('/')
    if (!ip || isIP(ip) !== 4 || !/^\d{1,2}$/.test(len ?? '')) throw new SpecError(`${field}.address`, `not an IPv4 CIDR: ${JSON.stringify(checks.address)}`)
    words.push(`kvmnet.addr=${checks.address}`)
  }
  if (checks.slaac !== undefined) {
    if (!Number.isInteger(checks.slaac) || checks.slaac < 1 || checks.slaac > 120) throw new SpecError(`${field}.slaac`, `not 1-120 seconds: ${checks.slaac}`)
    words.push(`kvmnet.slaac=${checks.slaac}`)
  }
  if (checks.listen !== undefined) {
    if (!Number.isInteger(checks.listen) || checks.listen < 1 || checks.listen > 65535) throw new SpecError(`${field}.listen`, `not a port: ${checks.listen}`)
    words.push(`kvmnet.listen=${checks.listen}`)
  }
  for (const key of ['sink', 'source'] as const) {
    const port = checks[key]
    if (port === undefined) continue
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SpecError(`${field}.${key}`, `not a port: ${port}`)
    words.push(`kvmnet.${key}=${port}`)
  }
  if (checks.waitForPeers !== undefined) {
    if (!Number.isInteger(checks.waitForPeers) || checks.waitForPeers < 0 || checks.waitForPeers > 600) throw new SpecError(`${field}.waitForPeers`, `not 0-600 seconds: ${checks.waitForPeers}`)
    words.push(`kvmnet.peerwait=${checks.waitForPeers}`)
  }
  return words
}
