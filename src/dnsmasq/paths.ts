/** Where one dnsmasq instance keeps its files: everything under a single state directory. */
import { join } from 'node:path'
import { nsLabel } from '../netns/index.js'
import type { NetnsRef } from '../netns/index.js'

export interface DnsmasqPaths {
  dir: string
  conf: string
  /** dhcp-hostsfile: reservations, re-read on SIGHUP. */
  hostsFile: string
  /** addn-hosts: DNS records, re-read on SIGHUP. */
  addnHosts: string
  leaseFile: string
  pidFile: string
  /** dnsmasq's stderr when detached (a supervised instance's stderr is a pipe to this process). */
  logFile: string
  /** The log's previous part, once it was rotated (log-rotate.ts). */
  oldLogFile: string
}

export const DEFAULT_DNSMASQ_ROOT = '/run/kvmnet'

export function defaultStateDir(ns: NetnsRef | undefined, network: string): string {
  return join(DEFAULT_DNSMASQ_ROOT, nsLabel(ns), network, 'dnsmasq')
}

export function dnsmasqPaths(stateDir: string): DnsmasqPaths {
  return {
    dir: stateDir,
    conf: join(stateDir, 'dnsmasq.conf'),
    hostsFile: join(stateDir, 'dhcp-hosts'),
    addnHosts: join(stateDir, 'addn-hosts'),
    leaseFile: join(stateDir, 'leases'),
    pidFile: join(stateDir, 'dnsmasq.pid'),
    logFile: join(stateDir, 'dnsmasq.log'),
    oldLogFile: join(stateDir, 'dnsmasq.log.1'),
  }
}
