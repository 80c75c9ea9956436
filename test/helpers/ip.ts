/**
 * Typed kernel state for assertions, read with iproute2's JSON output (`ip -j`), so tests compare
 * fields (names, masters, groups, addresses) instead of scrubbed `ip -o` text. iproute2 prints `{}` for
 * links a filter excluded; those are dropped here.
 */
import type { TestNs } from './ns.js'

export interface IpLink {
  ifindex: number
  ifname: string
  master?: string
  group?: string
  address?: string
  mtu: number
  flags: string[]
  operstate: string
  ifalias?: string
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown>; info_slave_kind?: string }
}

export interface IpAddress {
  ifname: string
  addr_info: { family: 'inet' | 'inet6'; local: string; prefixlen: number; scope: string }[]
}

function parse<T extends object>(text: string, key: keyof T): T[] {
  return (JSON.parse(text || '[]') as T[]).filter((x) => key in x)
}

/** Links of a namespace (`ip -j -d link show [args]`), e.g. links(ns, 'group', '77') or links(ns, 'master', 'br0'). */
export async function links(ns: TestNs, ...filter: string[]): Promise<IpLink[]> {
  return parse<IpLink>(await ns.run('ip', ['-j', '-d', 'link', 'show', ...filter]), 'ifname')
}

export async function link(ns: TestNs, name: string): Promise<IpLink | undefined> {
  const r = await ns.try('ip', ['-j', '-d', 'link', 'show', 'dev', name])
  return r.exitCode === 0 ? parse<IpLink>(r.stdout, 'ifname')[0] : undefined
}

/** Addresses (CIDR) on a device. */
export async function addresses(ns: TestNs, dev: string): Promise<string[]> {
  const list = parse<IpAddress>(await ns.run('ip', ['-j', 'addr', 'show', 'dev', dev]), 'ifname')
  return list.flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`))
}

/** What is configured on a link (not carrier or operational state, which settle on their own). */
export interface ConfiguredLink {
  ifname: string
  kind: string | undefined
  master: string | undefined
  group: string | undefined
  alias: string | undefined
  address: string | undefined
  mtu: number
  up: boolean
}

/** Every link's configured state, sorted by name: comparable between two moments. */
export async function configuredLinks(ns: TestNs): Promise<ConfiguredLink[]> {
  return (await links(ns))
    .map((l) => ({
      ifname: l.ifname,
      kind: l.linkinfo?.info_kind,
      master: l.master,
      group: l.group,
      alias: l.ifalias,
      address: l.address,
      mtu: l.mtu,
      up: l.flags.includes('UP'),
    }))
    .sort((a, b) => a.ifname.localeCompare(b.ifname))
}

/** Link names only. */
export async function linkNames(ns: TestNs): Promise<string[]> {
  return (await links(ns)).map((l) => l.ifname).sort()
}
