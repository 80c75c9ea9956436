/**
 * A network's status, read from the kernel with filtered requests (the bridge by name, its ports by link
 * group) rather than dumps of every link in the namespace, so it stays cheap on a host with thousands of
 * ports. The shared parts are checked here; each kind's driver adds what is specific to it.
 */
import type { Lease } from '../dnsmasq/index.js'
import type { LinkInfo } from '../rtnl/index.js'
import { learnTableName, rulesDrift, type PortForward } from '../nft/index.js'
import type { StatusContext } from './driver.js'
import { type NetworkPlan } from './plan.js'
import { bridgeOf, dnsmasqOf, firewallOf, hostHelperOf } from './kinds/plan-parts.js'
import { learningOf } from './kinds/learning.js'
import { startEarly, monotonicMs } from '../util/index.js'
import { isNotFound } from '../errors.js'
import type { NetworkMode, PortBandwidthSpec } from './spec.js'
import type { NetworkState } from './state.js'
import { vxlanStatus, type VxlanStatus } from './steps/vxlan.js'

export interface PortStatus {
  name: string
  kind: 'tap' | 'macvtap'
  index: number
  /** The host side's MAC as the kernel has it (a tap's own; a macvtap's is the guest's). */
  linkMac: string | undefined
  up: boolean
  tapDevice?: string | undefined
  /** The port's limits as the spec gives them (KiB/s, KiB). */
  bandwidth?: PortBandwidthSpec | undefined
}

export interface NetworkStatus {
  name: string
  mode: NetworkMode
  netns: string
  /** True when everything the spec asks for is there and up. */
  up: boolean
  bridge?: { name: string; index: number; up: boolean; mtu: number; mac: string | undefined } | undefined
  addresses: string[]
  ports: PortStatus[]
  /** The VXLAN device that stretches the network to other hosts, with its peers as the kernel has them. */
  vxlan?: VxlanStatus | undefined
  /** Read back from nft: whether the table is there, the forwards its DNAT rules implement, its rule count. */
  firewall: { installed: boolean; forwards: PortForward[]; rules: number } | undefined
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
  return { name: l.name, kind: l.kind === 'macvtap' ? 'macvtap' : 'tap', index: l.index, linkMac: l.mac, up: l.up, tapDevice: l.tapDevice }
}

/**
 * The kernel gives no snapshot: a link found by one read may be gone by the next (deleted by hand, or by a
 * watch repair that failed half-way and rolled back what it had made), and the read that depends on it
 * fails with ENODEV. Such a status is read again: a status reports what is missing, it never throws
 * because something vanished while it looked. Only a namespace churning without pause exhausts the
 * attempts, and then the last read's error is thrown.
 */
export async function networkStatus(
  ctx: StatusContext,
  plan: NetworkPlan,
  kindProblems: (ctx: StatusContext) => Promise<string[]>,
): Promise<NetworkStatus> {
  const start = monotonicMs()
  for (let attempt = 1; ; attempt++) {
    try {
      return await readStatus(ctx, plan, kindProblems, start)
    } catch (err) {
      if (!isNotFound(err) || attempt >= STATUS_ATTEMPTS) throw err
    }
  }
}

const STATUS_ATTEMPTS = 8

async function readStatus(
  ctx: StatusContext,
  plan: NetworkPlan,
  kindProblems: (ctx: StatusContext) => Promise<string[]>,
  start: number,
): Promise<NetworkStatus> {
  const { rtnl, state, dnsmasq } = ctx
  const problems: string[] = []
  if (!state) problems.push('not up (no state)')

  // The table is read by spawning nft: started first, so it runs while the kernel dumps the links.
  const rules = firewallOf(plan)
  const installedRules = rules ? startEarly(ctx.nft.get(plan.name)) : undefined
  // Without its address-learning table, addresses() knows the leases only.
  const learning = learningOf(plan)
  const learningThere = learning ? startEarly(ctx.nft.hasLearning(learning.tag, learning.family)) : undefined
  const bridge = bridgeOf(plan)
  const bridgeLink = bridge ? await rtnl.findLink(bridge) : undefined
  if (bridge && !bridgeLink) problems.push(`bridge ${bridge} missing`)
  else if (bridgeLink && !bridgeLink.up) problems.push(`bridge ${bridge} down`)
  if (bridgeLink && plan.mtu !== undefined && bridgeLink.mtu !== plan.mtu) problems.push(`bridge ${bridge} has MTU ${bridgeLink.mtu}, the spec's is ${plan.mtu}`)
  const helper = hostHelperOf(plan)?.name
  const addrLink = bridgeLink ?? (helper ? await rtnl.findLink(helper) : undefined)
  const addresses = addrLink ? (await rtnl.listAddresses(addrLink.index)).map((a) => a.cidr) : []

  // Filtered in the kernel by master where there is a bridge (a group has no dump filter).
  const links = bridge ? (bridgeLink ? await rtnl.listLinks({ master: bridgeLink.index }) : []) : await rtnl.listLinks({ group: plan.group })
  const limits = new Map(plan.ports.map((p) => [p.name, p.kind === 'tap' ? p.bandwidth : undefined]))
  const ports = links.filter((l) => l.alias === plan.alias.port).map((l) => ({ ...portStatus(l), bandwidth: limits.get(l.name) }))
  const byName = new Map(ports.map((x) => [x.name, x]))
  for (const p of plan.ports) {
    const got = byName.get(p.name)
    if (!got) problems.push(`port ${p.name} missing`)
    else if (!got.up) problems.push(`port ${p.name} down`)
  }

  const vx = await vxlanStatus(rtnl, plan, bridgeLink)
  problems.push(...vx.problems)

  let firewall: NetworkStatus['firewall']
  if (rules) {
    // Read back from the kernel: what is installed, not what this handle believes it installed. The
    // recorded rules carry the uplink resolved at apply time.
    const installed = await installedRules?.()
    const drift = rulesDrift(state?.nftRules ?? rules, installed)
    firewall = { installed: installed !== undefined, forwards: installed?.forwards ?? [], rules: installed?.ruleCount ?? 0 }
    problems.push(...drift.problems)
    // An uplink kvmnet chose (the default route's device) must still be the way out.
    const chosen = state?.nftRules?.nat?.uplink ?? state?.nftRules?.routed?.uplink
    if (chosen && !rules.nat?.uplink && !rules.routed?.uplink) {
      const now = (await rtnl.defaultRoute(4))?.devName
      if (now && now !== chosen) problems.push(`the default route now leaves via ${now}, the rules still via ${chosen} (up follows it)`)
    }
  }

  if (learning && !(await learningThere?.())) problems.push(`address-learning table ${learning.family} ${learnTableName(learning.tag)} missing`)

  let dns: NetworkStatus['dnsmasq']
  let leases: Lease[] = []
  if (dnsmasqOf(plan)) {
    const pid = dnsmasq?.pid
    dns = { running: pid !== undefined, pid, detached: state?.dnsmasq?.detached ?? false }
    if (pid === undefined || !dnsmasq) problems.push('dnsmasq not running')
    else {
      leases = await dnsmasq.leases()
      const on = state?.dnsmasq?.ifindex
      if (on !== undefined && bridgeLink && on !== bridgeLink.index)
        problems.push(`dnsmasq serves a bridge that is gone (ifindex ${on}; ${bridgeLink.name} is now ${bridgeLink.index})`)
    }
  }
  const seen = new Map([...(bridgeLink ? [bridgeLink] : []), ...links].map((l) => [l.name, l]))
  problems.push(...(await kindProblems({ ...ctx, seen })))

  return {
    name: plan.name,
    mode: plan.mode,
    netns: ctx.ns.name ?? ctx.ns.path,
    up: problems.length === 0,
    bridge: bridgeLink
      ? { name: bridgeLink.name, index: bridgeLink.index, up: bridgeLink.up, mtu: bridgeLink.mtu, mac: bridgeLink.mac }
      : undefined,
    addresses,
    ports,
    ...(vx.status ? { vxlan: vx.status } : {}),
    firewall,
    dnsmasq: dns,
    leases,
    problems,
    ms: monotonicMs() - start,
    lastApply: state?.lastApply,
  }
}
