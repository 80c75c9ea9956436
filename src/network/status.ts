/**
 * A network's status, read from the kernel with filtered requests (the bridge by name, its ports by
 * master or by link group) rather than dumps of every link in the namespace, so it stays cheap on a host
 * with thousands of ports.
 */
import type { Dnsmasq, Lease } from '../dnsmasq/index.js'
import type { LinkInfo } from '../rtnl/index.js'
import { tableExists } from '../nft/index.js'
import type { Network } from './network.js'
import type { NetworkState } from './state.js'

export interface PortStatus {
  name: string
  kind: string
  index: number
  mac: string | undefined
  up: boolean
  tapDevice?: string | undefined
}

export interface NetworkStatus {
  name: string
  mode: string
  netns: string
  /** True when everything the spec asks for is there and up. */
  up: boolean
  bridge?: { name: string; index: number; up: boolean; mtu: number; mac: string | undefined } | undefined
  addresses: string[]
  ports: PortStatus[]
  firewall: { installed: boolean; forwards: number } | undefined
  dnsmasq: { running: boolean; pid: number | undefined; detached: boolean } | undefined
  leases: Lease[]
  /** Problems found (a port missing, dnsmasq not running): empty when up. */
  problems: string[]
  /** How long this status took to read, ms. */
  ms: number
  /** Per-step timings of the last apply (from the network's state). */
  lastApply?: NetworkState['lastApply']
}

function portStatus(l: LinkInfo): PortStatus {
  return { name: l.name, kind: l.kind ?? 'unknown', index: l.index, mac: l.mac, up: l.up, tapDevice: l.tapDevice }
}

export async function networkStatus(net: Network, state: NetworkState | undefined, dnsmasq: Dnsmasq | undefined): Promise<NetworkStatus> {
  const start = performance.now()
  const plan = net.plan
  const rtnl = net.rtnl
  const problems: string[] = []
  if (!state) problems.push('not up (no state)')

  const bridgeLink = plan.bridge ? await rtnl.findLink(plan.bridge) : undefined
  if (plan.bridge && !bridgeLink) problems.push(`bridge ${plan.bridge} missing`)
  else if (bridgeLink && !bridgeLink.up) problems.push(`bridge ${plan.bridge} down`)
  const addrLink = bridgeLink ?? (plan.hostHelper ? await rtnl.findLink(plan.hostHelper) : undefined)
  const addresses = addrLink ? (await rtnl.listAddresses(addrLink.index)).map((a) => a.cidr) : []

  const links = plan.mode === 'macvtap' ? await rtnl.listLinks({ group: plan.group }) : bridgeLink ? await rtnl.listLinks({ master: bridgeLink.index }) : []
  const ports = links.filter((l) => l.alias === plan.alias.port).map(portStatus)
  for (const p of plan.ports) {
    const got = ports.find((x) => x.name === p.name)
    if (!got) problems.push(`port ${p.name} missing`)
    else if (!got.up) problems.push(`port ${p.name} down`)
  }

  let firewall: NetworkStatus['firewall']
  if (plan.firewall) {
    const installed = await tableExists(net.ns, plan.name)
    firewall = { installed, forwards: plan.firewall.forwards?.length ?? 0 }
    if (!installed) problems.push('firewall rules missing')
  }

  let dns: NetworkStatus['dnsmasq']
  let leases: Lease[] = []
  if (plan.dnsmasq) {
    const pid = dnsmasq?.pid
    dns = { running: pid !== undefined, pid, detached: state?.dnsmasq?.detached ?? false }
    if (pid === undefined) problems.push('dnsmasq not running')
    else leases = await dnsmasq!.leases()
  }

  return {
    name: plan.name,
    mode: plan.mode,
    netns: net.ns.name ?? net.ns.path,
    up: problems.length === 0,
    bridge: bridgeLink
      ? { name: bridgeLink.name, index: bridgeLink.index, up: bridgeLink.up, mtu: bridgeLink.mtu, mac: bridgeLink.mac }
      : undefined,
    addresses,
    ports,
    firewall,
    dnsmasq: dns,
    leases,
    problems,
    ms: performance.now() - start,
    lastApply: state?.lastApply,
  }
}
