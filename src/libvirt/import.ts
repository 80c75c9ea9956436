/**
 * fromLibvirtXml: a libvirt network definition (what `virsh net-dumpxml` prints) as a kvmnet spec, by
 * meaning: the forward mode picks the kind, <bridge>/<mtu>/<bandwidth> the bridge, <ip>/<dns>/<domain> what
 * dnsmasq serves. Whatever kvmnet cannot carry over faithfully is a LibvirtImportError naming the element
 * and attribute — every attribute and element of the document must be read by a rule here, so one kvmnet
 * does not know is refused rather than dropped. What differs without changing what guests get (STP on a
 * bridge with no NIC, the bridge's own MAC) is said in `notes`. The result passes kvmnet's validateSpec.
 */
import { SpecError } from '../errors.js'
import { NETWORK_NAME_PATTERN } from '../util/index.js'
import { validateSpec, type NetworkSpec } from '../network/index.js'
import { LibvirtImportError } from './import-error.js'
import { dnsSection, ipSections, visit, type ImportContext } from './import-ip.js'
import { parseXml, type XmlElement } from './xml-tree.js'

export interface LibvirtImportOptions {
  /** The spec's netns (the namespace to build the network in). */
  netns?: string
  /**
   * For a libvirt network on an existing host bridge (<forward mode='bridge'> with <bridge name>): the NIC
   * in that bridge, which kvmnet's bridge mode enslaves to a bridge of the same name it builds itself.
   */
  bridgeInterface?: string
}

export interface LibvirtImport {
  spec: NetworkSpec
  /** What differs from libvirt without changing what guests get, one sentence each. */
  notes: string[]
}

const DNSMASQ_NS = 'http://libvirt.org/schemas/network/dnsmasq/1.0'

type Json = Record<string, unknown>

/** A libvirt name as a kvmnet network name: runs of other characters become '-', at most 32 characters. */
function networkName(ctx: ImportContext, network: XmlElement): string {
  const el = network.one('name')
  const name = el?.text.trim() ?? ''
  if (!name) throw new LibvirtImportError('<name>', '', 'missing: a libvirt network has a name')
  if (NETWORK_NAME_PATTERN.test(name)) return name
  const mapped = name.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^[-_]+/, '').slice(0, 32).replace(/-+$/, '') || 'libvirt-network'
  ctx.notes.push(`<name>: '${name}' is not a kvmnet network name (1-32 letters, digits, _ or -): named '${mapped}'`)
  return mapped
}

/** Elements whose presence alone means kvmnet cannot build the network, refused in document order. */
function refuseUnsupported(ctx: ImportContext, network: XmlElement): void {
  if (network.attr('trustGuestRxFilters') !== undefined) throw new LibvirtImportError('<network>', 'trustGuestRxFilters', "trusting guests' receive filters (macvtap multicast/MAC changes) is not something kvmnet sets")
  network.attr('connections')
  const ipv6 = network.attr('ipv6')
  if (ipv6 === 'yes') ctx.notes.push("<network ipv6='yes'>: guests exchange IPv6 among themselves on kvmnet's bridge without it")
  for (const c of network.children) {
    if (c.uri === DNSMASQ_NS) throw new LibvirtImportError(`<${c.name}>`, '', "raw dnsmasq options: kvmnet writes dnsmasq's configuration itself and cannot tell what they would change")
    if (c.uri !== '') throw new LibvirtImportError(`<${c.name}>`, '', `an element of namespace ${c.uri}, which kvmnet does not know`)
    switch (c.name) {
      case 'virtualport':
        throw new LibvirtImportError('<virtualport>', c.has('type') ? 'type' : '', `${c.attr('type') ?? 'a'} virtual port profile (Open vSwitch, 802.1Qbg/Qbh) is not something kvmnet drives`)
      case 'vlan':
        throw new LibvirtImportError('<vlan>', '', 'VLAN tagging of the guests\' ports is not something kvmnet sets')
      case 'route':
        throw new LibvirtImportError('<route>', c.has('gateway') ? 'gateway' : '', 'static routes through a guest are not part of a kvmnet network')
      case 'port':
        throw new LibvirtImportError('<port>', c.has('isolated') ? 'isolated' : '', 'port isolation between guests is not something kvmnet sets')
      case 'portgroup': {
        const setting = c.children[0]
        if (setting) throw new LibvirtImportError('<portgroup>', '', `'${c.attr('name') ?? ''}' carries settings (<${setting.name}>) for the domains that choose it, which kvmnet has no place for`)
        network.skip('portgroup')
        ctx.notes.push(`<portgroup name='${c.attr('name') ?? ''}'>: a group without settings; kvmnet has no port groups (domains naming it attach as any other)`)
        break
      }
      case 'metadata':
        network.skip('metadata')
        ctx.notes.push('<metadata>: applications\' data about the network, not kept')
        break
      case 'uuid':
      case 'title':
      case 'description':
        network.skip(c.name)
        break
    }
  }
}

/** The forward devices: dev= and each <interface dev> (the same one twice counts once). */
function forwardDevices(ctx: ImportContext, fwd: XmlElement): string[] {
  for (const pf of fwd.all('pf')) throw new LibvirtImportError('<pf>', pf.has('dev') ? 'dev' : '', "a physical function whose virtual functions are handed to guests (SR-IOV) is not something kvmnet manages")
  for (const a of fwd.all('address')) throw new LibvirtImportError('<address>', a.has('type') ? 'type' : '', 'a PCI device handed to guests is not something kvmnet manages')
  const devs = [fwd.attr('dev'), ...fwd.all('interface').map((i) => visit(ctx, i).attr('dev'))].filter((d): d is string => d !== undefined)
  const unique = [...new Set(devs)]
  if (unique.length > 1) throw new LibvirtImportError('<interface>', 'dev', `several forward devices (${unique.join(', ')}): a kvmnet network uses one`)
  return unique
}

function natOptions(ctx: ImportContext, fwd: XmlElement): { snat?: string; nat66: boolean } {
  const nat = fwd.one('nat')
  if (!nat) return { nat66: false }
  visit(ctx, nat)
  const nat66 = nat.attr('ipv6') === 'yes'
  const port = nat.one('port')
  if (port) {
    visit(ctx, port)
    const range = `${port.attr('start') ?? ''}-${port.attr('end') ?? ''}`
    // libvirt's own default: its masquerade maps source ports into 1024-65535.
    if (range !== '1024-65535') throw new LibvirtImportError('<port>', 'start', `masquerading into source ports ${range} is not something kvmnet does (it keeps the guest's port where it can)`)
    ctx.notes.push("<nat><port start='1024' end='65535'>: kvmnet's masquerade keeps the guest's source port where it can")
  }
  const address = nat.one('address')
  if (!address) return { nat66 }
  visit(ctx, address)
  const start = address.attr('start')
  const end = address.attr('end') ?? start
  if (!start || start !== end) throw new LibvirtImportError('<address>', 'end', `SNAT to a range of addresses (${start ?? ''}-${end ?? ''}): kvmnet SNATs to one address`)
  return { snat: start, nat66 }
}

function bridgeSection(ctx: ImportContext, network: XmlElement): Json {
  const out: Json = {}
  const br = network.one('bridge')
  if (br) {
    visit(ctx, br)
    if (br.attr('zone') !== undefined) throw new LibvirtImportError('<bridge>', 'zone', 'putting the bridge in a firewalld zone is not something kvmnet does (it lets its traffic through firewalld itself)')
    const mtm = br.attr('macTableManager')
    if (mtm !== undefined && mtm !== 'kernel') throw new LibvirtImportError('<bridge>', 'macTableManager', `'${mtm}': kvmnet leaves MAC learning and flooding to the kernel`)
    const name = br.attr('name')
    if (name) out.bridge = name
    const stp = br.attr('stp') ?? 'on'
    br.attr('delay')
    if (stp === 'on') ctx.notes.push("<bridge stp='on'>: kvmnet's bridge runs without STP (no NIC of the host is in it, so there is no loop to break; guests' first frames are not held back)")
  }
  const mac = network.one('mac')
  if (mac) {
    visit(ctx, mac)
    ctx.notes.push(`<mac address='${mac.attr('address') ?? ''}'>: the bridge keeps the MAC kvmnet gives it, not this one (guests learn it by ARP/ND)`)
  }
  const bw = network.one('bandwidth')
  if (bw) {
    visit(ctx, bw)
    if (bw.one('outbound')) throw new LibvirtImportError('<outbound>', '', "a cap on all traffic out of the network: kvmnet's network bandwidth has inbound only (per guest: ports[].bandwidth.outbound)")
    const inbound = bw.one('inbound')
    if (inbound) {
      visit(ctx, inbound)
      const rate: Json = {}
      for (const k of ['average', 'peak', 'burst'] as const) {
        const v = inbound.attr(k)
        if (v !== undefined) rate[k] = /^\d+$/.test(v) ? Number(v) : v
      }
      out.bandwidth = { inbound: rate }
    }
  }
  return out
}

function mtuOf(ctx: ImportContext, network: XmlElement): Json {
  const mtu = network.one('mtu')
  if (!mtu) return {}
  visit(ctx, mtu)
  const size = mtu.attr('size')
  if (!size || !/^\d+$/.test(size)) throw new LibvirtImportError('<mtu>', 'size', `'${size ?? ''}' is not a number`)
  return { mtu: Number(size) }
}

const MACVTAP_MODES: Record<string, string> = { bridge: 'bridge', private: 'private', vepa: 'vepa', passthrough: 'passthru' }

function specOf(ctx: ImportContext, network: XmlElement, opts: LibvirtImportOptions): Json {
  const name = networkName(ctx, network)
  const base: Json = { name, ...(opts.netns !== undefined ? { netns: opts.netns } : {}) }
  const fwd = network.one('forward')
  if (fwd) visit(ctx, fwd)
  const mode = fwd ? (fwd.attr('mode') ?? 'nat') : 'none'
  if (mode === 'hostdev') throw new LibvirtImportError('<forward>', 'mode', "'hostdev': NICs' virtual functions handed to guests (PCI passthrough) are not a network kvmnet builds")
  const devs = fwd ? forwardDevices(ctx, fwd) : []
  const macvtapMode = MACVTAP_MODES[mode]
  const hostBridge = network.children.some((c) => c.name === 'bridge' && c.has('name'))
  if (macvtapMode && !(mode === 'bridge' && hostBridge)) {
    const nic = devs[0]
    if (!nic) throw new LibvirtImportError('<forward>', 'dev', `mode '${mode}' without a device: kvmnet's macvtap network needs the NIC`)
    const m = mtuOf(ctx, network)
    return { ...base, mode: 'macvtap', interface: nic, ...(macvtapMode !== 'bridge' ? { macvtapMode } : {}), ...m }
  }
  if (mode === 'bridge') {
    const br = visit(ctx, network.one('bridge') as XmlElement)
    const bridge = br.attr('name')
    if (!opts.bridgeInterface) throw new LibvirtImportError('<bridge>', 'name', `'${bridge ?? ''}' is an existing host bridge libvirt only attaches guests to; kvmnet's bridge mode builds the bridge itself: name the NIC in it (--interface NIC)`)
    const mtm = br.attr('macTableManager')
    if (mtm !== undefined && mtm !== 'kernel') throw new LibvirtImportError('<bridge>', 'macTableManager', `'${mtm}': kvmnet leaves MAC learning and flooding to the kernel`)
    for (const a of ['stp', 'delay']) br.attr(a)
    ctx.notes.push(`<bridge name='${bridge ?? ''}'>: kvmnet builds this bridge itself and enslaves ${opts.bridgeInterface} to it (take the host's own bridge down first)`)
    return { ...base, mode: 'bridge', bridge, interface: opts.bridgeInterface, ...mtuOf(ctx, network) }
  }
  const bridged = { ...base, ...bridgeSection(ctx, network), ...mtuOf(ctx, network) }
  if (mode === 'none') {
    const ips = ipSections(ctx, network, { nat66: false })
    if (!ips.ipv4 && !ips.ipv6) return { ...bridged, mode: 'very-isolated' }
    // libvirt's isolated network forwards no queries (no-resolv) unless it names forwarders.
    const dns = dnsSection(ctx, network)
    const local = dns.enabled === false || dns.forwarders !== undefined ? dns : { ...dns, forwarders: [] }
    return { ...bridged, mode: 'isolated', ...ips, dns: local }
  }
  if (mode !== 'nat' && mode !== 'route' && mode !== 'open') throw new LibvirtImportError('<forward>', 'mode', `'${mode}' is not a libvirt forward mode kvmnet knows`)
  const nat = mode === 'nat' ? natOptions(ctx, fwd as XmlElement) : { nat66: false }
  const ips = ipSections(ctx, network, { nat66: nat.nat66 })
  const dns = dnsSection(ctx, network)
  const uplink = devs[0]
  if (uplink && mode === 'open') ctx.notes.push(`<forward dev='${uplink}'>: an open network adds no rules, so the device limits nothing (as in libvirt)`)
  return {
    ...bridged,
    mode: mode === 'route' ? 'routed' : mode,
    ...(uplink && mode !== 'open' ? { uplink } : {}),
    ...(nat.snat ? { snat: nat.snat } : {}),
    ...ips,
    dns,
  }
}

/** Which libvirt element a spec field came from, for a validation failure of the imported spec. */
function elementOf(field: string): string {
  const top = field.split(/[.[]/)[0] ?? ''
  const map: Record<string, string> = { name: '<name>', mtu: '<mtu>', bridge: '<bridge>', ipv4: '<ip>', ipv6: '<ip>', dns: '<dns>', uplink: '<forward>', interface: '<forward>', snat: '<nat>', bandwidth: '<bandwidth>' }
  return map[top] ?? '<network>'
}

export function fromLibvirtXml(xml: string, opts: LibvirtImportOptions = {}): LibvirtImport {
  const network = parseXml(xml)
  if (network.uri !== '' || network.name !== 'network') throw new LibvirtImportError(`<${network.name}>`, '', 'not a libvirt network definition (its root element is <network>)')
  const ctx: ImportContext = { seen: [network], notes: [] }
  refuseUnsupported(ctx, network)
  const raw = specOf(ctx, network, opts)
  for (const el of ctx.seen) {
    const left = el.unread()
    if (left) throw new LibvirtImportError(left.element, left.attribute, `kvmnet has no counterpart for this on a ${String(raw.mode)} network`)
  }
  try {
    return { spec: validateSpec(raw), notes: ctx.notes }
  } catch (e) {
    if (!(e instanceof SpecError)) throw e
    throw new LibvirtImportError(elementOf(e.field), '', `becomes ${e.field}, which kvmnet refuses: ${e.reason}`)
  }
}
