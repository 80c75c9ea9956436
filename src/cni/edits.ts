/**
 * The changes an attachment makes to its network, as pure edits of (spec, runtime additions) that
 * Network.update applies under the network's lock: a reservation MAC → address (so DHCP and DNS agree
 * with the address configured in the container), a DNS record for its name (dnsmasq resolves a
 * reservation's name only once it is leased, and a container configured by the plugin never asks), and
 * the port mappings as forwards. All three are recorded as runtime additions the attachment holds
 * (runtime.held), so an operator's `kvmnet up` of the original spec — with --prune too — keeps them
 * until the attachment's DEL or GC releases them.
 */
import type { DhcpHostSpec, DnsHostSpec, ForwardSpec, NetworkSpec } from '../network/index.js'
import type { HeldAdditions, RuntimeAdditions } from '../network/index.js'
import { dhcpHostsOf, dhcpRangesOf, dnsHostKey, dnsHostsOf, forwardKey, forwardsOf, forwardsOverlap, hasDhcp, servesDns, takesForwards, unique, withDhcpHosts, withDnsHosts, withForwards } from '../network/index.js'
import { pickAddress } from './allocate.js'
import type { CniNetworkSpec, PortMapping } from './config.js'
import { CniCode, CniError } from './errors.js'

export interface AttachRequest {
  mac: string
  /** DNS names to try, best first (the first not already used by another reservation is taken). */
  names: readonly string[]
  portMappings: readonly PortMapping[]
  /** Addresses leased dynamically to other clients (not to `mac`): never handed out again. */
  leased: ReadonlySet<string>
}

export interface Attached {
  ip: string
  name: string | undefined
  forwards: ForwardSpec[]
}

type Edited = [NetworkSpec, RuntimeAdditions]

/** What the attachments hold (kept by an operator's `up`, prune or not); absent in older states. */
function heldOf(runtime: RuntimeAdditions): HeldAdditions {
  return runtime.held ?? { reservations: [], forwards: [], dnsHosts: [] }
}

function hostsOf(spec: NetworkSpec): DhcpHostSpec[] {
  return [...dhcpHostsOf(spec)]
}

/** The reservations replaced (a network without DHCP has none to replace). */
function withHosts(spec: NetworkSpec, hosts: DhcpHostSpec[]): NetworkSpec {
  return hasDhcp(spec) ? withDhcpHosts(spec, hosts) : spec
}

export function forwardOf(m: PortMapping, ip: string): ForwardSpec {
  return {
    proto: m.protocol,
    hostPort: m.hostPort,
    guest: ip,
    ...(m.containerPort !== m.hostPort ? { guestPort: m.containerPort } : {}),
    ...(m.hostIP ? { hostAddress: m.hostIP } : {}),
  }
}

function sameForward(a: ForwardSpec, b: ForwardSpec): boolean {
  return forwardKey(a) === forwardKey(b) && a.guest === b.guest && (a.guestPort ?? a.hostPort) === (b.guestPort ?? b.hostPort)
}

/**
 * The reservation for `req.mac` (an existing one is kept: a retried ADD, or an operator's reservation
 * for a MAC the runtime passed) and its forwards. `out` receives what was decided.
 */
export function attachEdit(spec: NetworkSpec, runtime: RuntimeAdditions, req: AttachRequest, out: { value?: Attached }): Edited {
  const mac = req.mac.toLowerCase()
  const hosts = hostsOf(spec)
  const mine = hosts.find((h) => h.mac.toLowerCase() === mac)
  let next: NetworkSpec = spec
  let reservations = runtime.reservations
  let held = heldOf(runtime)
  let ip: string
  let name: string | undefined
  if (mine) {
    ip = mine.ip
    name = mine.name
  } else {
    const picked = pickAddress(spec, req.leased)
    if (!picked) {
      const ranges = dhcpRangesOf(spec).map((r) => r.join(' - '))
      throw new CniError(CniCode.AddressesExhausted, 'no free address', `every address of ${spec.name}'s DHCP range${ranges.length > 1 ? 's' : ''} ${ranges.join(', ')} is reserved or leased`)
    }
    ip = picked
    const dnsHosts = dnsHostsOf(spec)
    const used = new Set([...hosts.map((h) => h.name), ...dnsHosts.map((h) => h.name)].filter((n) => n !== undefined).map((n) => n.toLowerCase()))
    name = req.names.find((n) => !used.has(n.toLowerCase()))
    next = withHosts(spec, [...hosts, { mac, ip, ...(name ? { name } : {}) }])
    if (name && servesDns(next)) {
      next = withDnsHosts(next, [...dnsHosts, { name, ip }])
      held = { ...held, dnsHosts: unique([...held.dnsHosts, dnsHostKey({ name, ip })]) }
    }
    reservations = unique([...reservations, mac])
    held = { ...held, reservations: unique([...held.reservations, mac]) }
  }
  const forwards: ForwardSpec[] = []
  let have = [...forwardsOf(next)]
  let forwardKeys = runtime.forwards
  for (const m of req.portMappings) {
    const f = forwardOf(m, ip)
    forwards.push(f)
    if (have.some((g) => sameForward(f, g))) continue
    const clash = have.find((g) => forwardsOverlap(f, g))
    if (clash)
      throw new CniError(CniCode.PortTaken, 'host port already forwarded', `${m.protocol}/${m.hostPort} is forwarded to ${clash.guest} already (network ${spec.name})`)
    have = [...have, f]
    forwardKeys = unique([...forwardKeys, forwardKey(f)])
    held = { ...held, forwards: unique([...held.forwards, forwardKey(f)]) }
  }
  if (takesForwards(next) && req.portMappings.length > 0) next = withForwards(next, have)
  out.value = { ip, name, forwards }
  return [next, { ...runtime, reservations, forwards: forwardKeys, held }]
}

/**
 * Undo an attachment: its reservation (by MAC) and the forwards to its address — only what the runtime
 * added (runtime additions), never an operator's own reservation or forward. Undefined when there is
 * nothing to remove (a second DEL).
 */
export function detachEdit(spec: NetworkSpec, runtime: RuntimeAdditions, what: { mac?: string | undefined; ip?: string | undefined }): Edited | undefined {
  const mac = what.mac?.toLowerCase()
  const hosts = hostsOf(spec)
  const runtimeMacs = new Set(runtime.reservations)
  const drop = hosts.filter((h) => mac !== undefined && h.mac.toLowerCase() === mac && runtimeMacs.has(mac))
  const ips = new Set([...drop.map((h) => h.ip), ...(what.ip ? [what.ip] : [])])
  const runtimeForwards = new Set(runtime.forwards)
  const forwards = forwardsOf(spec)
  const dropForwards = forwards.filter((f) => ips.has(f.guest) && runtimeForwards.has(forwardKey(f)))
  const dnsHosts = dnsHostsOf(spec)
  const dropDns = dnsHosts.filter((d) => drop.some((h) => h.name !== undefined && h.name === d.name && h.ip === d.ip))
  if (drop.length === 0 && dropForwards.length === 0) return undefined
  let next = withHosts(spec, hosts.filter((h) => !drop.includes(h)))
  if (dropDns.length > 0) next = withDnsHosts(next, dnsHosts.filter((d) => !dropDns.includes(d)))
  if (takesForwards(next) && dropForwards.length > 0) next = withForwards(next, forwards.filter((f) => !dropForwards.includes(f)))
  const droppedKeys = new Set(dropForwards.map(forwardKey))
  const droppedMacs = new Set(drop.map((h) => h.mac.toLowerCase()))
  const droppedDns = new Set(dropDns.map(dnsHostKey))
  const held = heldOf(runtime)
  return [
    next,
    {
      ...runtime,
      reservations: runtime.reservations.filter((m) => !droppedMacs.has(m)),
      forwards: runtime.forwards.filter((k) => !droppedKeys.has(k)),
      held: {
        reservations: held.reservations.filter((m) => !droppedMacs.has(m)),
        forwards: held.forwards.filter((k) => !droppedKeys.has(k)),
        dnsHosts: held.dnsHosts.filter((d) => !droppedDns.has(d)),
      },
    },
  ]
}
