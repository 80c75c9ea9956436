/**
 * The ADD result (spec section 5) for one attachment, in the shape of the configuration's version: 1.1.0
 * adds `mtu` to interfaces, which 1.0.0 does not have. A `prevResult` from an earlier plugin in the chain
 * is kept, with this attachment's interfaces, addresses and routes appended.
 */
import type { CniVersion } from './version.js'

export interface ResultInterface {
  name: string
  mac?: string
  mtu?: number
  sandbox?: string
}

export interface ResultIp {
  address: string
  gateway?: string
  interface?: number
}

export interface ResultRoute {
  dst: string
  gw?: string
}

export interface ResultDns {
  nameservers?: string[]
  domain?: string
  search?: string[]
  options?: string[]
}

export interface CniResult {
  cniVersion: string
  interfaces?: ResultInterface[]
  ips?: ResultIp[]
  routes?: ResultRoute[]
  dns?: ResultDns
}

export interface AttachmentFacts {
  /** The host end of the veth (no sandbox). */
  host: { name: string; mac: string | undefined }
  /** The container's interface: the veth end, or the tap a VM attaches to. */
  container: { name: string; mac: string; mtu: number | undefined }
  /** CNI_NETNS. */
  sandbox: string
  /** The container's address with the subnet's prefix length, e.g. 10.88.0.10/24. */
  address: string
  /** The host's address on the bridge, where the network routes (nat, routed, open); absent on isolated. */
  gateway: string | undefined
  /** Whether the attachment got the default route via `gateway` (only the container's first one does). */
  defaultRoute: boolean
  /** The network's DNS server (its dnsmasq on the host address), when it serves DNS. */
  nameserver: string | undefined
  domain: string | undefined
}

function iface(i: ResultInterface, version: CniVersion): ResultInterface {
  const out: ResultInterface = { name: i.name }
  if (i.mac) out.mac = i.mac
  if (version !== '1.0.0' && i.mtu !== undefined) out.mtu = i.mtu
  if (i.sandbox) out.sandbox = i.sandbox
  return out
}

export function attachmentResult(version: CniVersion, a: AttachmentFacts, prev?: unknown): CniResult {
  const p = (typeof prev === 'object' && prev !== null ? prev : {}) as CniResult
  const before = Array.isArray(p.interfaces) ? p.interfaces : []
  const interfaces = [
    ...before,
    iface({ name: a.host.name, ...(a.host.mac ? { mac: a.host.mac } : {}) }, version),
    iface({ name: a.container.name, mac: a.container.mac, ...(a.container.mtu !== undefined ? { mtu: a.container.mtu } : {}), sandbox: a.sandbox }, version),
  ]
  const ip: ResultIp = { address: a.address, ...(a.gateway ? { gateway: a.gateway } : {}), interface: before.length + 1 }
  const routes: ResultRoute[] = a.gateway && a.defaultRoute ? [{ dst: '0.0.0.0/0', gw: a.gateway }] : []
  const dns: ResultDns = {
    ...(a.nameserver ? { nameservers: [a.nameserver] } : {}),
    ...(a.domain ? { domain: a.domain, search: [a.domain] } : {}),
  }
  const prevDns = p.dns && Object.keys(p.dns).length > 0 ? p.dns : undefined
  return {
    cniVersion: version,
    interfaces,
    ips: [...(Array.isArray(p.ips) ? p.ips : []), ip],
    routes: [...(Array.isArray(p.routes) ? p.routes : []), ...routes],
    dns: prevDns ?? dns,
  }
}
