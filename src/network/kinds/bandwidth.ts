/**
 * Bandwidth limits, libvirt's <bandwidth> carried over: what a spec may ask (checked before anything is
 * touched) and the traffic-control objects that give it, computed from the plan alone.
 *
 * - A port's inbound (traffic to the guest) is shaped on its tap's egress: a root HTB whose one class
 *   (the default) has the port's average as rate, peak as ceil, burst as burst and cburst.
 * - A port's outbound (from the guest) arrives on the tap's ingress, where a u32 match-all filter
 *   redirects it (act_mirred) to the port's own IFB; the IFB's egress carries the same HTB as above. Not
 *   the bridge's ingress: with br_netfilter on, packets redirected from there skip the bridge's netfilter
 *   hooks and leave unmasqueraded.
 * - The network's inbound cap is an HTB on the bridge's egress (what the host sends or routes to the
 *   guests): class 1 holds the cap, class 2 (the default) the guests without a floor, and each guest
 *   with a floor has a class under 1 with the floor as rate, picked by its MAC (libvirt's design).
 * - The network's outbound cap: every tap's ingress is redirected to one IFB of the network (still not
 *   the bridge's), whose HTB has the same shape: class 1 the cap, class 2 the guests without an outbound
 *   limit, and each guest with one a class under 1 (its average as rate, its peak as ceil) picked by its
 *   source MAC — so a port's limit and the network's hold together, and the ports' own IFBs are not made.
 */
import type { U32Match } from '../../rtnl/index.js'
import type { IssueSink, NetworkSpec, PortBandwidthSpec } from '../spec.js'
import type { NetworkPlan, PlannedTap } from '../plan.js'

/** The major number of every qdisc and class kvmnet makes (4b51:, "KQ"): others' are left alone. */
export const QOS_HANDLE = 0x4b510000
const KIB = 1024
const NET_CLASS = QOS_HANDLE | 1
const NET_DEFAULT = 2
const FLOOR_CLASS_BASE = 0x100
/** Packets an IFB may queue: the kernel's default of 32 undershoots a shaped upload by ~20%. */
export const IFB_TXQUEUELEN = 1000

export interface WantedClass {
  classid: number
  parent: number
  rate: number
  ceil: number
  burst?: number | undefined
  cburst?: number | undefined
}

export interface WantedFilter {
  prio: number
  match: U32Match
  flowid: number
}

/** The shaping one device should carry (nothing at all when both parts are absent). */
export interface DeviceShaping {
  dev: string
  root?: { defaultClass: number; classes: WantedClass[]; filters: WantedFilter[] } | undefined
  /** The IFB the device's ingress is redirected to. */
  redirectTo?: string | undefined
}

export interface Shaping {
  devices: DeviceShaping[]
  ifbs: string[]
}

type Rates = { average?: number | undefined; peak?: number | undefined; burst?: number | undefined }

function leaf(classid: number, parent: number, r: Rates & { average: number }): WantedClass {
  const burst = r.burst === undefined ? undefined : r.burst * KIB
  return { classid, parent, rate: r.average * KIB, ceil: (r.peak ?? r.average) * KIB, burst, cburst: burst }
}

function singleClass(r: Rates & { average: number }): DeviceShaping['root'] {
  return { defaultClass: 1, classes: [leaf(QOS_HANDLE | 1, QOS_HANDLE, r)], filters: [] }
}

/** Every device of the network and what it should carry: taps, IFBs and the bridge, shaped or not. */
export function shapingOf(plan: NetworkPlan): Shaping {
  const devices: DeviceShaping[] = []
  const ifbs: string[] = []
  const taps = plan.ports.filter((p): p is PlannedTap => p.kind === 'tap')
  const netOut = 'bridge' in plan ? plan.bandwidth?.outbound : undefined
  const netIfb = netOut && 'bridge' in plan ? plan.outboundIfb : undefined
  for (const p of taps) {
    const inb = p.bandwidth?.inbound
    const out = p.bandwidth?.outbound
    const root = inb?.average !== undefined ? singleClass({ ...inb, average: inb.average }) : undefined
    if (netIfb) {
      devices.push({ dev: p.name, root, redirectTo: netIfb })
      continue
    }
    devices.push({ dev: p.name, root, redirectTo: out ? p.ifb : undefined })
    if (out && p.ifb) {
      ifbs.push(p.ifb)
      devices.push({ dev: p.ifb, root: singleClass(out) })
    }
  }
  if ('bridge' in plan) devices.push({ dev: plan.bridge, root: bridgeRoot(plan.bandwidth?.inbound, taps) })
  if (netIfb && netOut) {
    ifbs.push(netIfb)
    devices.push({ dev: netIfb, root: outboundRoot(netOut, taps) })
  }
  return { devices, ifbs }
}

/**
 * The taps whose qdiscs the bandwidth step sets (a root HTB, or an ingress redirect): made down by the
 * ports step and raised by the bandwidth step once those are on (see ensureBandwidth).
 */
export function shapedTaps(plan: NetworkPlan): Set<string> {
  const taps = new Set(plan.ports.filter((p) => p.kind === 'tap').map((p) => p.name))
  return new Set(shapingOf(plan).devices.filter((d) => taps.has(d.dev) && (d.root || d.redirectTo !== undefined)).map((d) => d.dev))
}

/** The network's outbound cap on its IFB: a class per guest with an outbound limit, by source MAC. */
function outboundRoot(cap: Rates & { average: number }, taps: readonly PlannedTap[]): DeviceShaping['root'] {
  const net = leaf(NET_CLASS, QOS_HANDLE, cap)
  const limited = taps.map((p, i) => ({ p, i, out: p.bandwidth?.outbound })).filter((x): x is { p: PlannedTap; i: number; out: Rates & { average: number } } => x.out !== undefined)
  const reserved = limited.reduce((n, x) => n + x.out.average, 0)
  const rest: WantedClass = { classid: QOS_HANDLE | NET_DEFAULT, parent: NET_CLASS, rate: Math.max(cap.average - reserved, 1) * KIB, ceil: net.ceil, burst: net.burst, cburst: net.burst }
  const classes = [net, rest]
  const filters: WantedFilter[] = []
  for (const { p, i, out } of limited) {
    const own = leaf(QOS_HANDLE | (FLOOR_CLASS_BASE + i), NET_CLASS, out)
    // A guest's own peak above the network's is the network's.
    classes.push({ ...own, rate: Math.min(own.rate, net.ceil), ceil: Math.min(own.ceil, net.ceil) })
    filters.push({ prio: 2, match: { srcMac: p.mac }, flowid: own.classid })
  }
  return { defaultClass: NET_DEFAULT, classes, filters }
}

function bridgeRoot(cap: (Rates & { average: number }) | undefined, taps: readonly PlannedTap[]): DeviceShaping['root'] {
  if (!cap) return undefined
  const net = leaf(NET_CLASS, QOS_HANDLE, cap)
  const floored = taps.map((p, i) => ({ p, i, floor: p.bandwidth?.inbound?.floor })).filter((x): x is { p: PlannedTap; i: number; floor: number } => x.floor !== undefined)
  const floors = floored.reduce((n, x) => n + x.floor, 0)
  // The guests without a floor share what the floors leave (at least 1 KiB/s) and borrow up to the cap.
  const rest: WantedClass = { classid: QOS_HANDLE | NET_DEFAULT, parent: NET_CLASS, rate: Math.max(cap.average - floors, 1) * KIB, ceil: net.ceil, burst: net.burst, cburst: net.burst }
  const classes = [net, rest]
  const filters: WantedFilter[] = []
  for (const { p, i, floor } of floored) {
    const classid = QOS_HANDLE | (FLOOR_CLASS_BASE + i)
    classes.push({ classid, parent: NET_CLASS, rate: floor * KIB, ceil: net.ceil, burst: net.burst, cburst: net.burst })
    filters.push({ prio: 2, match: { dstMac: p.mac }, flowid: classid })
  }
  return { defaultClass: NET_DEFAULT, classes, filters }
}

function checkRates(r: Rates, field: string, bad: IssueSink): void {
  if (r.average === undefined) {
    if (r.peak !== undefined) bad(`${field}.peak`, 'needs average: peak is how far above average the guest may go')
    if (r.burst !== undefined) bad(`${field}.burst`, 'needs average: burst is how much the guest may send above average')
  } else if (r.peak !== undefined && r.peak < r.average) bad(`${field}.peak`, `${r.peak} KiB/s is below average (${r.average} KiB/s)`)
}

/** The relations between bandwidth fields (the schema has checked each one's shape and range). */
export function checkBandwidth(spec: NetworkSpec, bad: IssueSink): void {
  const cap = 'bandwidth' in spec ? spec.bandwidth : undefined
  if (cap && (spec.mode === 'bridge' || spec.mode === 'very-isolated'))
    bad('bandwidth', `a ${spec.mode} network's guests are not reached through the host, so the host cannot cap them together; limit each port instead`)
  if (cap?.inbound) checkRates(cap.inbound, 'bandwidth.inbound', bad)
  if (cap?.outbound) checkRates(cap.outbound, 'bandwidth.outbound', bad)
  let floors = 0
  ;(spec.ports ?? []).forEach((port, i) => {
    const bw: PortBandwidthSpec | undefined = port.bandwidth
    if (!bw) return
    const field = `ports[${i}].bandwidth`
    if (spec.mode === 'macvtap') {
      bad(field, "a macvtap port cannot be shaped: traffic to the guest is handed to it by the parent NIC without passing the macvtap's queue")
      return
    }
    if (bw.inbound) {
      if (bw.inbound.average === undefined && bw.inbound.floor === undefined) bad(`${field}.inbound`, 'needs average, floor or both')
      checkRates(bw.inbound, `${field}.inbound`, bad)
      const floor = bw.inbound.floor
      if (floor !== undefined) {
        if (!cap?.inbound) bad(`${field}.inbound.floor`, "a floor is a share of the network's inbound cap: set bandwidth.inbound on the network")
        else if ((floors += floor) > cap.inbound.average)
          bad(`${field}.inbound.floor`, `the floors add up to ${floors} KiB/s, more than the network's bandwidth.inbound.average (${cap.inbound.average} KiB/s)`)
      }
    }
    if (bw.outbound) checkRates(bw.outbound, `${field}.outbound`, bad)
  })
}
