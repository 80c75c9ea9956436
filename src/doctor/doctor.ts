/**
 * doctor: what on this host stops a kvmnet network from working, named with the object responsible and
 * the fix. Read-only: it lists nftables chains (not rules of huge sets), iptables-save and
 * iptables-legacy-save listings, sysctls, listening sockets and routes of the namespace, asks the kernel
 * for input routes (rp_filter), and never changes anything. Other firewalls kvmnet coexists with (Docker,
 * ufw, firewalld) are reported as blocking, or as 'info' when what kvmnet added lets the networks through.
 */
import { readFile } from 'node:fs/promises'
import { Netns } from '../netns/index.js'
import { RTPROT_RA, Rtnl, readSysctl } from '../rtnl/index.js'
import { managedNicFindings } from './managed-nic.js'
import { bridgeFindings } from './bridge-health.js'
import { libvirtFindings } from './libvirt.js'
import { DEFAULT_STATE_ROOT, kindOf, listStates, netnsIdentity, type NetworkState, type PlannedNetwork } from '../network/index.js'
import { listChains, type ListedChain } from '../coexist/index.js'
import type { Finding } from './findings.js'
import { firewallFindings, type Examined } from './firewalls.js'
import { rpFindings, type RpProbe } from './rp-filter.js'
import { listeners, takes, wantedSockets } from './listeners.js'
import { hostChecks, hostFindings, type HostCheck } from './host.js'

export type { Finding, FindingCode } from './findings.js'

export interface DoctorReport {
  netns: string
  networks: string[]
  findings: Finding[]
  /** The run-time requirements (README "What the host needs at run time"), checked when no network is named. */
  host?: HostCheck[]
}

export interface DoctorOptions {
  netns?: Netns | string
  stateRoot?: string
  /** Only this network (default: every network with state in the namespace). */
  network?: string
  /** Check the host's run-time requirements too (default: when no network is named). */
  host?: boolean
}

async function nftChains(ns: Netns): Promise<ListedChain[]> {
  return listChains(ns).catch(() => [])
}

function forwards(net: PlannedNetwork): boolean {
  return net.plan.sysctls.some((s) => s.key === 'net/ipv4/ip_forward')
}

export async function doctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const ns = options.netns instanceof Netns ? options.netns : options.netns ? Netns.open(options.netns) : Netns.current()
  const here = netnsIdentity(ns)
  const listing = await listStates(options.stateRoot ?? DEFAULT_STATE_ROOT)
  const states: NetworkState[] = listing.states
    .map((s) => s.state)
    .filter((s) => s.netnsId === here && (!options.network || s.name === options.network))
  const plans = states.map((s) => ({ state: s, net: kindOf(s.spec).plan(options.stateRoot ?? DEFAULT_STATE_ROOT) }))
  const findings: Finding[] = []
  for (const u of listing.unreadable) {
    if (options.network && u.name !== options.network) continue
    findings.push({ code: 'state-unreadable', severity: 'error', network: u.name, object: u.error.path, problem: `the state of network ${u.name} cannot be read (${u.error.message}): down, status and gc cannot act on it and leave its links alone`, fix: `inspect ${u.error.path}; if the network is gone, remove its links (group and alias name it) and the file by hand` })
  }
  const host = (options.host ?? !options.network) ? await hostChecks() : undefined
  if (host) findings.push(...hostFindings(host))
  const chains = await nftChains(ns)

  // Other firewalls: foreign drop policies, Docker, ufw, firewalld, iptables-legacy, br_netfilter.
  const examined: Examined[] = plans.flatMap(({ state, net }) => {
    const target = net.coexistTarget({ evenIfOff: true })
    return target ? [{ name: state.name, target, coexist: net.coexist }] : []
  })
  findings.push(...(await firewallFindings(ns, chains, examined)))

  const rtnl = Rtnl.open(ns)
  try {
    const ipForward = (await readSysctl(ns, 'net/ipv4/ip_forward').catch(() => '0')).trim()
    const listening = plans.some((p) => p.net.dnsmasq) ? await listeners(ns, rtnl) : []
    for (const { state, net } of plans) {
      if (forwards(net) && ipForward !== '1') {
        findings.push({ code: 'ip-forward-off', severity: 'error', network: state.name, object: 'net.ipv4.ip_forward=0', problem: `${state.name} routes guests to the outside, but forwarding is off`, fix: `kvmnet up ${state.name}'s spec again (it sets ip_forward), or sysctl -w net.ipv4.ip_forward=1` })
      }
      const d = net.dnsmasq
      if (d !== undefined) {
        const ours = new Set<number>()
        const pidText = await readFile(`${state.dnsmasq?.stateDir ?? ''}/dnsmasq.pid`, 'utf8').catch(() => '')
        if (Number(pidText) > 0) ours.add(Number(pidText))
        const wanted = wantedSockets(d, net.bridge)
        for (const l of listening) {
          const w = wanted.find((x) => takes(l, x))
          if (!w) continue
          if (l.pid !== undefined && ours.has(l.pid)) continue
          if (l.comm === 'dnsmasq' && l.pid === undefined) continue
          findings.push({ code: 'port-in-use', severity: 'error', network: state.name, object: `${l.comm ?? 'a process'}${l.pid ? ` (pid ${l.pid})` : ''} on ${l.proto} ${l.addr}${l.device ? `%${l.device}` : ''}:${l.port}`, problem: `${state.name}'s dnsmasq needs ${l.proto}/${l.port} on ${w.hostAddress}`, fix: `stop that process, or give ${state.name} another address` })
        }
      }
      // IPv6 forwarding makes the kernel ignore RAs where accept_ra is 1.
      if (net.plan.sysctls.some((s) => s.key === 'net/ipv6/conf/all/forwarding')) {
        const dev = (await rtnl.defaultRoute(6, { protocol: RTPROT_RA }))?.devName
        if (dev && (await readSysctl(ns, `net/ipv6/conf/${dev}/accept_ra`).catch(() => '')).trim() === '1' && (await readSysctl(ns, 'net/ipv6/conf/all/forwarding').catch(() => '0')).trim() === '1') {
          findings.push({ code: 'accept-ra-lost', severity: 'warning', network: state.name, object: `net.ipv6.conf.${dev}.accept_ra=1`, problem: `with IPv6 forwarding on, ${dev} ignores router advertisements and will lose its RA default route`, fix: `kvmnet up ${state.name}'s spec again (it sets accept_ra=2 there), or sysctl -w net.ipv6.conf.${dev}.accept_ra=2` })
        }
      }
      // Another device routing the network's subnet.
      const bridge = net.bridge
      const sub = net.subnet
      if (sub && bridge) {
        for (const r of await rtnl.listRoutes({ family: 4, table: 254 })) {
          if (r.dst !== sub || r.devName === bridge) continue
          findings.push({ code: 'subnet-routed-elsewhere', severity: 'error', network: state.name, object: `route ${r.dst} dev ${r.devName ?? r.dev}`, problem: `${state.name}'s subnet is also routed through ${r.devName ?? `ifindex ${r.dev}`}`, fix: 'remove that route, or move the network to another subnet' })
        }
      }
    }
    findings.push(...(await managedNicFindings(ns, rtnl, plans)))
    findings.push(...(await bridgeFindings(rtnl, plans)))
    findings.push(...(await libvirtFindings(here, plans)))
    findings.push(...(await rpFindings(ns, rtnl, await rpProbes(rtnl, plans))))
  } finally {
    rtnl.close()
  }
  return { netns: ns.name ?? ns.path, networks: states.map((s) => s.name), findings, ...(host ? { host } : {}) }
}

/**
 * The reverse-path checks worth asking the kernel about: guests' packets arriving on the bridge (sources
 * from the DHCP range and reservations), and, for networks that route to an uplink, packets from beyond
 * the default gateway arriving there.
 */
async function rpProbes(rtnl: Rtnl, plans: { state: NetworkState; net: PlannedNetwork }[]): Promise<RpProbe[]> {
  const probes: RpProbe[] = []
  const def = await rtnl.defaultRoute(4)
  const defDev = def?.devName
  for (const { state, net } of plans) {
    const bridge = net.bridge
    const d = net.dnsmasq
    const host = d?.hostAddress ?? net.hostAddresses.find((a) => !a.includes(':'))?.split('/')[0]
    if (!bridge || !host) continue
    const guests = [...new Set([...(d?.dhcp?.range ? [d.dhcp.range[0], d.dhcp.range[1]] : []), ...(d?.dhcp?.ranges ?? []).flatMap((r) => [r.start, r.end]), ...(d?.dhcp?.hosts ?? []).map((h) => h.ip)])].slice(0, 6)
    if (guests.length === 0) guests.push(nextAddress(host))
    for (const g of guests) probes.push({ network: state.name, iif: bridge, what: `traffic of ${state.name}'s guests`, src: g, dst: host })
    const uplink = state.nftRules?.nat?.uplink ?? state.nftRules?.routed?.uplink ?? (net.routesGuests && net.firewall ? defDev : undefined)
    const gw = def?.gateway
    if (uplink && gw && guests[0] && uplink !== bridge) probes.push({ network: state.name, iif: uplink, what: `traffic from beyond the gateway ${gw} to ${state.name}'s guests`, src: gw, dst: guests[0] })
  }
  return probes
}

function nextAddress(ip: string): string {
  const n = ip.split('.').map(Number)
  const last = (n[3] ?? 0) + 1
  return [n[0], n[1], n[2], last > 254 ? (n[3] ?? 2) - 1 : last].join('.')
}
