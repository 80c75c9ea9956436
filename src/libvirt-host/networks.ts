/**
 * libvirt's own networks as this host's libvirt keeps them, for the checks that keep kvmnet from
 * colliding with one: the running networks' status files (/run/libvirt/network/NAME.xml, a
 * `<networkstatus>` around the `<network>`) and the defined ones (/etc/libvirt/qemu/networks/NAME.xml).
 * A defined network that is not running has no bridge and no route yet, so the kernel checks cannot see
 * it: it is a collision waiting for `virsh net-start` (or the next boot, when it autostarts).
 *
 * Only the few elements this needs are read (`<name>`, `<bridge name>`, `<ip address prefix|netmask
 * family>`), from files libvirt itself wrote; anything unreadable is skipped, never guessed at.
 *
 * Where the networks live: in the network namespace of the libvirt daemon (libvirtd, or virtnetworkd
 * with the modular daemons) that shares this process's mount namespace, i.e. writes the files read here;
 * with none running, the host's (PID 1's) namespace, where a libvirt started at boot puts them.
 */
import { readdirSync } from 'node:fs'
import { readdir, readFile, readlink, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ignoreNotFound, isNotFound } from '../errors.js'
import { ipaddr } from '../util/index.js'

export const LIBVIRT_NETWORK_DIRS = { active: '/run/libvirt/network', defined: '/etc/libvirt/qemu/networks' } as const

export interface LibvirtNetwork {
  name: string
  /** Running (a status file under /run/libvirt/network), or only defined. */
  active: boolean
  bridge?: string | undefined
  /** Each `<ip>` as a CIDR of its network, e.g. 192.168.122.0/24. */
  subnets: string[]
  file: string
}

export interface LibvirtCollision {
  network: LibvirtNetwork
  /** The kvmnet spec field it collides on: 'bridge', 'ipv4.address' or 'ipv6.address'. */
  field: 'bridge' | 'ipv4.address' | 'ipv6.address'
  /** What collides, in words: `bridge virbr0`, `192.168.122.0/24 overlaps 192.168.122.0/24`. */
  what: string
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', apos: "'", quot: '"' }

function unescape(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (m, e: string) =>
    e.startsWith('#x') || e.startsWith('#X') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : (ENTITIES[e] ?? m),
  )
}

/** The attributes of every start tag `<tag …>` in `xml`. */
function tags(xml: string, tag: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = []
  for (const m of xml.matchAll(new RegExp(`<${tag}(\\s[^>]*)?/?>`, 'g'))) {
    const attrs: Record<string, string> = {}
    for (const a of (m[1] ?? '').matchAll(/([\w:.-]+)\s*=\s*(?:'([^']*)'|"([^"]*)")/g)) attrs[a[1] ?? ''] = unescape(a[2] ?? a[3] ?? '')
    out.push(attrs)
  }
  return out
}

/** The CIDR of an `<ip>` element's network, or undefined when it cannot be read. */
function subnetOf(ip: Record<string, string>): string | undefined {
  const address = ip.address
  if (!address || !ipaddr.isValid(address)) return undefined
  const addr = ipaddr.parse(address)
  let len: number | undefined
  if (ip.prefix !== undefined) len = Number(ip.prefix)
  else if (ip.netmask !== undefined && ipaddr.IPv4.isValid(ip.netmask)) len = ipaddr.IPv4.parse(ip.netmask).prefixLengthFromSubnetMask() ?? undefined
  // No prefix: libvirt takes the address's class (10/8, 172.16/12 as /16, 192.168/16 as /24), IPv6 /64.
  else if (addr.kind() === 'ipv6') len = 64
  else {
    const first = (addr as ipaddr.IPv4).octets[0] ?? 0
    len = first < 128 ? 8 : first < 192 ? 16 : 24
  }
  if (len === undefined || !Number.isInteger(len) || len < 0 || len > (addr.kind() === 'ipv6' ? 128 : 32)) return undefined
  const net = addr.kind() === 'ipv6' ? ipaddr.IPv6.networkAddressFromCIDR(`${address}/${len}`) : ipaddr.IPv4.networkAddressFromCIDR(`${address}/${len}`)
  return `${net.toString()}/${len}`
}

/** One network file (a status or a definition), or undefined when it holds no `<network>`. */
export function parseLibvirtNetwork(xml: string, file: string, active: boolean): LibvirtNetwork | undefined {
  // A comment (a hand-edited definition's old bridge, say) is no element: out before the scan.
  const body = /<network[\s>][\s\S]*<\/network>/.exec(xml.replace(/<!--[\s\S]*?-->/g, ''))?.[0]
  if (!body) return undefined
  const name = /<name>([^<]*)<\/name>/.exec(body)?.[1]
  if (name === undefined) return undefined
  const bridge = tags(body, 'bridge')[0]?.name
  const subnets = tags(body, 'ip').flatMap((ip) => subnetOf(ip) ?? [])
  return { name: unescape(name.trim()), active, bridge, subnets, file }
}

async function readDir(dir: string, active: boolean): Promise<LibvirtNetwork[]> {
  let names: string[]
  try {
    // Listed synchronously: on a host without libvirt (the common case) the answer is an ENOENT in
    // microseconds, where a trip through the thread pool and back cost every first up a wait on its
    // critical path (more on a loaded host). The files, when there are any, are still read asynchronously.
    names = readdirSync(dir).filter((f) => f.endsWith('.xml'))
  } catch (err) {
    if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'EACCES') return []
    throw err
  }
  const out: LibvirtNetwork[] = []
  for (const f of names.sort()) {
    const file = join(dir, f)
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      // Gone since the listing (net-destroy), or not ours to read: nothing to say about it.
      if (isNotFound(err) || err.code === 'EACCES') return undefined
      throw err
    })
    const net = text === undefined ? undefined : parseLibvirtNetwork(text, file, active)
    if (net) out.push(net)
  }
  return out
}

/** The running and the defined networks (a running one once, as running). */
export async function libvirtNetworks(dirs: { active: string; defined: string } = LIBVIRT_NETWORK_DIRS): Promise<LibvirtNetwork[]> {
  // Both at once: every first up asks (preflight), and each file read is a trip through the thread pool.
  const [active, all] = await Promise.all([readDir(dirs.active, true), readDir(dirs.defined, false)])
  const defined = all.filter((d) => !active.some((a) => a.name === d.name))
  return [...active, ...defined]
}

async function nsId(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path)
    return `${s.dev}:${s.ino}`
  } catch (err) {
    if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'EACCES') return undefined
    throw err
  }
}

const DAEMONS = new Set(['libvirtd', 'virtnetworkd'])

/**
 * The identities (`dev:ino` of the namespace file) of the network namespaces libvirt's networks live in:
 * those of the libvirt daemons sharing this mount namespace, else PID 1's.
 */
export async function libvirtNetnsIds(): Promise<Set<string>> {
  const mine = await readlink('/proc/self/ns/mnt')
  const ids = new Set<string>()
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue
    try {
      if (!DAEMONS.has((await readFile(`/proc/${p}/comm`, 'utf8')).trim())) continue
      if ((await readlink(`/proc/${p}/ns/mnt`)) !== mine) continue
    } catch (err) {
      // The process exited since the listing.
      ignoreNotFound(err)
      continue
    }
    const id = await nsId(`/proc/${p}/ns/net`)
    if (id) ids.add(id)
  }
  if (ids.size === 0) {
    const host = await nsId('/proc/1/ns/net')
    if (host) ids.add(host)
  }
  return ids
}

function overlaps(a: string, b: string): boolean {
  const [na, la] = ipaddr.parseCIDR(a)
  const [nb, lb] = ipaddr.parseCIDR(b)
  if (na.kind() !== nb.kind()) return false
  return na.match([nb, lb] as [typeof na, number]) || nb.match([na, la] as [typeof nb, number])
}

/** Where a kvmnet network (its bridge name and subnets) collides with libvirt's networks. */
export function libvirtCollisions(wanted: { bridge?: string | undefined; subnet?: string | undefined; subnet6?: string | undefined }, networks: readonly LibvirtNetwork[]): LibvirtCollision[] {
  const out: LibvirtCollision[] = []
  for (const n of networks) {
    if (wanted.bridge !== undefined && n.bridge === wanted.bridge) out.push({ network: n, field: 'bridge', what: `bridge ${n.bridge}` })
    for (const [field, mine] of [['ipv4.address', wanted.subnet], ['ipv6.address', wanted.subnet6]] as const) {
      if (mine === undefined) continue
      const theirs = n.subnets.find((s) => overlaps(mine, s))
      if (theirs) out.push({ network: n, field, what: `${mine} overlaps ${theirs}` })
    }
  }
  return out
}

/** One line naming libvirt's network, for an error or a doctor finding. */
export function describeCollision(c: LibvirtCollision): string {
  return `${c.what} of libvirt's ${c.network.active ? 'running' : 'defined (not running: it collides at virsh net-start)'} network ${c.network.name} (${c.network.file})`
}
