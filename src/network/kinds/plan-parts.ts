/**
 * The parts of a plan that only some kinds have (a bridge, rules, dnsmasq, a vxlan segment, a host
 * helper), read here by kind, so that steps and the handle never ask which kind a plan is.
 */
import type { BridgePart, DnsmasqPlan, NetworkPlan, PortAnchor } from '../plan.js'
import type { NetworkRules } from '../../nft/index.js'
import type { PlannedVxlan } from '../vxlan.js'

/** Every name the network gives its links: bridge, ports, host helper, vxlan. */
export function linkNamesOf(plan: NetworkPlan): Set<string> {
  const names = new Set(plan.ports.map((p) => p.name))
  for (const p of plan.ports) if (p.kind === 'tap' && p.ifb) names.add(p.ifb)
  if ('outboundIfb' in plan && plan.outboundIfb) names.add(plan.outboundIfb)
  if ('bridge' in plan && plan.mode !== 'bridge') names.add(plan.bridge)
  const helper = hostHelperOf(plan)
  if (helper) names.add(helper.name)
  const vx = vxlanOf(plan)
  if (vx) names.add(vx.name)
  return names
}

/** The aliases of every role a network's links can have: what `down` and the group check accept as its own. */
export function ownAliases(plan: NetworkPlan): string[] {
  return [plan.alias.bridge, plan.alias.port, plan.alias.host, plan.alias.vxlan, plan.alias.ifb]
}

/** A plan's VXLAN segment, if its kind has a bridge and the spec asks for one. */
export function vxlanOf(plan: NetworkPlan): PlannedVxlan | undefined {
  return 'vxlan' in plan ? plan.vxlan : undefined
}

/** The plan as a bridged kind's, if it is one (every kind but macvtap). */
export function bridgedOf(plan: NetworkPlan): Extract<NetworkPlan, BridgePart> | undefined {
  return 'bridge' in plan ? plan : undefined
}

/** The bridge of a plan, if its kind has one. */
export function bridgeOf(plan: NetworkPlan): string | undefined {
  return 'bridge' in plan ? plan.bridge : undefined
}

/** A plan's firewall rules, if its kind installs any. */
export function firewallOf(plan: NetworkPlan): NetworkRules | undefined {
  return 'firewall' in plan ? plan.firewall : undefined
}

/** A macvtap network's host macvlan (hostAccess), if it has one. */
export function hostHelperOf(plan: NetworkPlan): { name: string; addresses: string[]; subnet?: string | undefined } | undefined {
  return plan.mode === 'macvtap' ? plan.hostHelper : undefined
}

/** The NIC a bridge network enslaves. */
export function nicOf(plan: NetworkPlan): string | undefined {
  return plan.mode === 'bridge' ? plan.nic : undefined
}

/** A plan's dnsmasq, if its kind runs one. */
export function dnsmasqOf(plan: NetworkPlan): DnsmasqPlan | undefined {
  return 'dnsmasq' in plan ? plan.dnsmasq : undefined
}

/**
 * The plan with an MTU the kernel decided (a vxlan's underlay less the encapsulation): for the bridge,
 * its ports, and what guests are told — DHCP option 26, and router advertisements where IPv6 allows it.
 */
export function withMtu<P extends NetworkPlan>(plan: P, mtu: number): P {
  const d = dnsmasqOf(plan)
  if (!d) return { ...plan, mtu }
  const dnsmasq: DnsmasqPlan = {
    ...d,
    ...(d.dhcp ? { dhcp: { ...d.dhcp, mtu } } : {}),
    ...(d.ipv6 && mtu >= 1280 ? { ipv6: { ...d.ipv6, mtu } } : {}),
  }
  return { ...plan, mtu, dnsmasq }
}

/** Where a plan's ports attach: the bridge, or (macvtap) the parent NIC in the network's macvtap mode. */
export function portAnchorOf(plan: NetworkPlan): PortAnchor {
  return plan.mode === 'macvtap' ? { parent: plan.parent, mode: plan.macvtapMode } : { bridge: plan.bridge }
}
