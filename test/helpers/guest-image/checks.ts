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
  return words
}
