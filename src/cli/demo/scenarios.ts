/**
 * One scenario per network kind. Each builds the kind with kvmnet in a scratch "host" namespace, attaches
 * guests (namespaces wired to the bridge, or macvlans on the NIC — the same kernel driver a macvtap uses),
 * and measures the three columns of the summary with real packets and a real DHCP client. Nothing in a
 * row is a constant: a column says "yes" only if the packets went through.
 */
import { Dnsmasq } from '../../dnsmasq/index.js'
import { writeSysctl } from '../../rtnl/index.js'
import type { Netns } from '../../netns/index.js'
import { createNetwork, type ApplyReport, type Network } from '../../network/index.js'
import type { NetworkSpecInput } from '../../network/index.js'
import { validateSpec } from '../../network/index.js'
import type { Lab } from './lab.js'

export interface Measurement {
  ok: boolean
  detail: string
}

export interface Row {
  kind: string
  host: Measurement
  external: Measurement
  dhcp: Measurement
  up: ApplyReport
  down?: ApplyReport
  leaseMs?: number
  /** Kinds with IPv6: whether the guest got an address by router advertisement, and reached the outside over IPv6. */
  ipv6?: { ra: boolean; outside: boolean; detail: string }
}

const INTERNET = { host: '203.0.113.1/24', far: '203.0.113.2/24', farIp: '203.0.113.2', host6: '2001:db8:1::1/64', far6: '2001:db8:1::2' }
const LAN = { router: '198.51.100.1', routerCidr: '198.51.100.1/24', hostNic: '198.51.100.2/24', helper: '198.51.100.3/24' }

function ip(cidr: string): string {
  return cidr.split('/')[0]!
}

/** A host namespace with an uplink to an "internet" namespace that routes back to `guestSubnet`. */
async function hostWithInternet(lab: Lab, guestSubnet: string): Promise<{ host: Netns; inet: Netns }> {
  const host = await lab.ns('host')
  const inet = await lab.ns('inet')
  await lab.wire(host, 'uplink0', inet, 'eth0', { cidrA: INTERNET.host, cidrB: INTERNET.far })
  await lab.rtnl(host).addRoute({ dst: 'default', gateway: INTERNET.farIp })
  // The outside knows the way back to the guests: if a guest's packet is not answered, it was the
  // network's rules that stopped it, not missing routing.
  await lab.rtnl(inet).addRoute({ dst: guestSubnet, gateway: ip(INTERNET.host) })
  // IPv6 on the same link; the outside routes nothing of the guests' prefixes back (NAT66 where it is
  // needed), except for routed networks, whose prefix the scenario routes itself.
  await lab.rtnl(host).addAddress('uplink0', INTERNET.host6, { noDad: true })
  await lab.rtnl(inet).addAddress('eth0', `${INTERNET.far6}/64`, { noDad: true })
  await lab.rtnl(host).addRoute({ dst: 'default', gateway: INTERNET.far6 })
  return { host, inet }
}

/** A "LAN" namespace with a bridge, a router address and its own DHCP server, and a host NIC on it. */
async function hostOnLan(lab: Lab, hostNicCidr: string | undefined): Promise<{ host: Netns; lan: Netns }> {
  const host = await lab.ns('host')
  const lan = await lab.ns('lan')
  const r = lab.rtnl(lan)
  await r.addLink({ kind: 'bridge', name: 'lan0', stp: false, forwardDelay: 0, up: true })
  await r.addAddress('lan0', LAN.routerCidr)
  await lab.wire(lan, 'lan-host', host, 'eth0', { master: 'lan0', ...(hostNicCidr ? { cidrB: hostNicCidr } : {}) })
  if (hostNicCidr) await lab.rtnl(host).addRoute({ dst: 'default', gateway: LAN.router })
  const dhcp = new Dnsmasq(lan, {
    network: 'lan',
    interface: 'lan0',
    subnet: '198.51.100.0/24',
    hostAddress: LAN.router,
    dhcp: { range: ['198.51.100.100', '198.51.100.150'], leaseTime: 3600 },
    dns: false,
    stateDir: `${await lab.scratchDir()}/lan-dnsmasq`,
  })
  await dhcp.start()
  lab.onDispose(() => dhcp.stop())
  return { host, lan }
}

async function up(lab: Lab, spec: NetworkSpecInput, host: Netns): Promise<{ net: Network; report: ApplyReport }> {
  const net = createNetwork(spec, { netns: host })
  lab.onDispose(() => net.down())
  const report = await net.up()
  return { net, report }
}

async function guestOnBridge(lab: Lab, host: Netns, bridge: string, veth: string): Promise<Netns> {
  const guest = await lab.ns('guest')
  await lab.wire(host, veth, guest, 'eth0', { master: bridge })
  return guest
}

function yes(detail: string): Measurement {
  return { ok: true, detail }
}
function no(detail: string): Measurement {
  return { ok: false, detail }
}

const PEER_PORT = 7000

async function measureRouted(lab: Lab, kind: 'nat' | 'isolated' | 'routed' | 'open', n: number): Promise<Row> {
  const subnet = `10.200.${n}.0/24`
  const hostAddr = `10.200.${n}.1`
  const { host, inet } = await hostWithInternet(lab, subnet)
  await lab.servePeerAddress(inet, PEER_PORT)
  // Forwarding is on in the host, as it would be with any nat network beside: isolation must come from
  // the network's own rules.
  await writeSysctl(host, 'net/ipv4/ip_forward', '1')
  const { net, report } = await up(
    lab,
    // One literal for four kinds: TypeScript cannot pick the variant of a union-typed mode, validation can.
    validateSpec({
      name: `demo-${kind}`,
      mode: kind,
      ipv4: { address: `${hostAddr}/24`, dhcp: { range: [`10.200.${n}.100`, `10.200.${n}.150`] } },
      ipv6: { address: `fd00:200:${n}::1/64`, ...(kind === 'nat' ? { nat66: true } : {}) },
      dns: { domain: `${kind}.test` },
      ports: [{ name: `vm-${kind}0` }],
    }),
    host,
  )
  const guest = await guestOnBridge(lab, host, bridgeName(net), `g-${kind}0`)
  const lease = await lab.dhcp(guest, 'eth0')
  const dhcp = lease ? yes(`lease ${lease.cidr} in ${lease.ms.toFixed(0)} ms`) : no('no lease')
  let hostM = no('guest has no address')
  if (lease) {
    const there = await lab.ping(host, ip(lease.cidr))
    const back = await lab.ping(guest, hostAddr)
    hostM = there && back ? yes(`ping ${hostAddr} <-> ${ip(lease.cidr)}`) : no(`ping host->guest ${there ? 'ok' : 'lost'}, guest->host ${back ? 'ok' : 'lost'}`)
  }
  // An isolated network hands out no router; point the guest at the host anyway, so that only the
  // network's rules stand between it and the outside.
  if (lease) await lab.rtnl(guest).replaceRoute({ dst: 'default', gateway: hostAddr })
  const out = await lab.ping(guest, INTERNET.farIp)
  // What the outside sees as the source: the host's uplink address behind NAT, the guest's own when routed.
  const seen = out ? await lab.peerAddressSeen(guest, INTERNET.farIp, PEER_PORT) : undefined
  const guestIp = lease ? ip(lease.cidr) : undefined
  const external = !out
    ? no(`ping ${INTERNET.farIp} ${kind === 'isolated' ? 'rejected' : 'lost'}`)
    : kind === 'nat'
      ? seen === ip(INTERNET.host)
        ? yes(`ping ${INTERNET.farIp}; the outside saw ${seen} (masqueraded)`)
        : no(`reached ${INTERNET.farIp} but the outside saw ${seen ?? 'nothing'}, not the host's ${ip(INTERNET.host)}`)
      : seen !== undefined && seen === guestIp
        ? yes(`ping ${INTERNET.farIp}; the outside saw the guest's own ${seen}${kind === 'open' ? ' (no kvmnet rules)' : ' (routed, no NAT)'}`)
        : no(`reached ${INTERNET.farIp} but the outside saw ${seen ?? 'nothing'}, not the guest's ${guestIp ?? '?'}`)
  if (kind === 'routed' || kind === 'open') await lab.rtnl(inet).addRoute({ dst: `fd00:200:${n}::/64`, gateway: ip(INTERNET.host6) })
  const ipv6 = await measureIpv6(lab, guest, `fd00:200:${n}:`, kind)
  const down = await net.down()
  return { kind, host: hostM, external, dhcp, up: report, down, ipv6, ...(lease ? { leaseMs: lease.ms } : {}) }
}

/** SLAAC from kvmnet's router advertisements (the guest's kernel alone), then a ping over IPv6 outside. */
async function measureIpv6(lab: Lab, guest: Netns, prefix: string, kind: string): Promise<NonNullable<Row['ipv6']>> {
  let addr: string | undefined
  for (let i = 0; i < 100 && !addr; i++) {
    const r = await lab.run(guest, 'ip', ['-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'global', '-tentative'])
    addr = r.stdout.match(new RegExp(`inet6 (${prefix}[0-9a-f:]*)/64`))?.[1]
    if (!addr) await new Promise((r) => setTimeout(r, 100))
  }
  if (!addr) return { ra: false, outside: false, detail: 'no IPv6 address by router advertisement' }
  let out = false
  for (let i = 0; i < (kind === 'isolated' ? 1 : 3) && !out; i++) out = (await lab.run(guest, 'busybox', ['ping', '-6', '-c', '1', '-W', '2', INTERNET.far6])).ok
  const how = kind === 'nat' ? ' (NAT66)' : kind === 'isolated' ? '' : ' (own address)'
  return { ra: true, outside: out, detail: `SLAAC ${addr}; ping ${INTERNET.far6} ${out ? `answered${how}` : kind === 'isolated' ? 'impossible: no default route advertised' : 'lost'}` }
}

export async function natRow(lab: Lab): Promise<Row> {
  return measureRouted(lab, 'nat', 1)
}

export async function isolatedRow(lab: Lab): Promise<Row> {
  return measureRouted(lab, 'isolated', 2)
}

export async function routedRow(lab: Lab): Promise<Row> {
  return measureRouted(lab, 'routed', 4)
}

export async function openRow(lab: Lab): Promise<Row> {
  return measureRouted(lab, 'open', 5)
}

/** Every kind the demo builds here has a bridge. */
function bridgeName(net: Network): string {
  const b = net.bridge
  if (!b) throw new Error(`${net.name} has no bridge`)
  return b
}

export async function veryIsolatedRow(lab: Lab): Promise<Row> {
  const { host } = await hostWithInternet(lab, '10.200.3.0/24')
  await writeSysctl(host, 'net/ipv4/ip_forward', '1')
  const { net, report } = await up(lab, { name: 'demo-vi', mode: 'very-isolated', ports: [{ name: 'vm-vi0' }] }, host)
  const g1 = await guestOnBridge(lab, host, bridgeName(net), 'g-vi0')
  const g2 = await guestOnBridge(lab, host, bridgeName(net), 'g-vi1')
  const lease = await lab.dhcp(g1, 'eth0')
  const dhcp = lease ? yes(`lease ${lease.cidr}`) : no('no DHCP server answered')
  // Guests number themselves; they share L2 and nothing else.
  await lab.rtnl(g1).addAddress('eth0', '10.200.3.11/24')
  await lab.rtnl(g2).addAddress('eth0', '10.200.3.12/24')
  await lab.rtnl(g1).addRoute({ dst: 'default', dev: 'eth0' })
  const l2 = await lab.ping(g1, '10.200.3.12')
  const hostToGuest = await lab.ping(host, '10.200.3.11')
  const hostM = hostToGuest ? yes('host reached guest') : no(`host has no address on the bridge (guest <-> guest: ${l2 ? 'ok' : 'lost'})`)
  const out = await lab.ping(g1, INTERNET.farIp)
  const external = out ? yes(`ping ${INTERNET.farIp} answered`) : no(`ping ${INTERNET.farIp} lost`)
  const down = await net.down()
  return { kind: 'very-isolated', host: hostM, external, dhcp, up: report, down }
}

export async function bridgeRow(lab: Lab): Promise<Row> {
  const { host } = await hostOnLan(lab, LAN.hostNic)
  const { net, report } = await up(lab, { name: 'demo-br', mode: 'bridge', interface: 'eth0', ports: [{ name: 'vm-br0' }] }, host)
  const guest = await guestOnBridge(lab, host, bridgeName(net), 'g-br0')
  const lease = await lab.dhcp(guest, 'eth0')
  const dhcp = lease ? yes(`LAN lease ${lease.cidr} in ${lease.ms.toFixed(0)} ms`) : no('no lease from the LAN')
  let hostM = no('guest has no address')
  if (lease) {
    const there = await lab.ping(host, ip(lease.cidr))
    hostM = there ? yes(`ping ${ip(LAN.hostNic)} (now on the bridge) -> ${ip(lease.cidr)}`) : no('host -> guest lost')
  }
  const out = await lab.ping(guest, LAN.router)
  const hostStill = await lab.ping(host, LAN.router)
  const external = out ? yes(`ping LAN router ${LAN.router}; host still reaches it: ${hostStill ? 'yes' : 'no'}`) : no('LAN router unreachable')
  const down = await net.down()
  const restored = (await lab.rtnl(host).listAddresses('eth0')).some((a) => a.cidr === LAN.hostNic)
  external.detail += restored ? '; NIC address restored on down' : '; NIC address NOT restored'
  return { kind: 'bridge', host: hostM, external, dhcp, up: report, down, ...(lease ? { leaseMs: lease.ms } : {}) }
}

async function macvtapRow(lab: Lab, hostAccess: boolean): Promise<Row> {
  // A NIC dedicated to guests (no host address on it), as macvtap setups usually have.
  const { host } = await hostOnLan(lab, undefined)
  await lab.rtnl(host).setLink('eth0', { up: true })
  const spec: NetworkSpecInput = {
    name: hostAccess ? 'demo-mvh' : 'demo-mvt',
    mode: 'macvtap',
    interface: 'eth0',
    macvtapMode: 'bridge',
    ports: [{ name: 'vm-mvt0' }],
    ...(hostAccess ? { hostAccess: true, ipv4: { address: LAN.helper } } : {}),
  }
  const { net, report } = await up(lab, spec, host)
  const [port] = await net.ports()
  // The guest: a macvlan in bridge mode on the same NIC, moved into its own namespace — the same driver
  // and the same L2 rules as the macvtap a VM would open at ${port?.tapDevice}.
  const guest = await lab.ns('guest')
  await lab.rtnl(host).addLink({ kind: 'macvlan', name: 'g-mvt0', parent: 'eth0', mode: 'bridge' })
  await lab.rtnl(host).setLink('g-mvt0', { netns: guest, name: 'eth0' })
  await lab.rtnl(guest).setLink('eth0', { up: true })
  const lease = await lab.dhcp(guest, 'eth0')
  const dhcp = lease ? yes(`LAN lease ${lease.cidr} in ${lease.ms.toFixed(0)} ms`) : no('no lease from the LAN')
  let hostM = no('guest has no address')
  if (lease) {
    const there = await lab.ping(host, ip(lease.cidr))
    hostM = there
      ? yes(`ping via host macvlan ${ip(LAN.helper)} -> ${ip(lease.cidr)}`)
      : no(hostAccess ? 'host -> guest lost' : 'macvtap guests cannot reach their parent NIC')
  }
  const out = await lab.ping(guest, LAN.router)
  const external = out ? yes(`ping LAN router ${LAN.router}; port ${port?.name} is ${port?.tapDevice ?? '?'}`) : no('LAN router unreachable')
  const down = await net.down()
  return {
    kind: hostAccess ? 'macvtap + hostAccess' : 'macvtap',
    host: hostM,
    external,
    dhcp,
    up: report,
    down,
    ...(lease ? { leaseMs: lease.ms } : {}),
  }
}

export const macvtapPlainRow = (lab: Lab) => macvtapRow(lab, false)
export const macvtapHostAccessRow = (lab: Lab) => macvtapRow(lab, true)
