/**
 * A network's coexistence target, from its spec and plan: which traffic crosses the forward hook, and
 * what guests need to reach on the host — what Docker, ufw and firewalld must be told to let through.
 * Whether coexistence is on at all is spec-parts.ts's coexistEnabled.
 */
import type { CoexistTarget, HostPort } from '../../coexist/index.js'
import { type NetworkPlan } from '../plan.js'
import { bridgeOf, dnsmasqOf, firewallOf } from './plan-parts.js'
import type { NetworkSpec } from '../spec.js'
import { coexistEnabled } from './spec-parts.js'

/**
 * The target, or undefined when coexistence is off or the kind has no bridge (macvtap). `evenIfOff`: what
 * coexistence would add (doctor's fix for a network that turned it off).
 */
export function coexistTargetOf(spec: NetworkSpec, plan: NetworkPlan, opts: { evenIfOff?: boolean } = {}): CoexistTarget | undefined {
  const bridge = bridgeOf(plan)
  if (!bridge || (!opts.evenIfOff && !coexistEnabled(spec))) return undefined
  const routes = plan.mode === 'nat' || plan.mode === 'routed' || plan.mode === 'open'
  const ports: HostPort[] = []
  const d = dnsmasqOf(plan)
  if (d?.dhcp) ports.push({ proto: 'udp', port: 67 })
  if (d && d.dns !== false) ports.push({ proto: 'any', port: 53 })
  if (d?.ipv6?.dhcp) ports.push({ proto: 'udp', port: 547 })
  const services = firewallOf(plan)?.hostServices
  if (Array.isArray(services)) for (const s of services) ports.push({ proto: s.proto, port: s.port })
  const seen = new Set<string>()
  const hostPorts = ports.filter((p) => {
    const k = `${p.proto}/${p.port}`
    if (seen.has(k) || (p.proto !== 'any' && seen.has(`any/${p.port}`))) return false
    seen.add(k)
    return true
  })
  return { network: spec.name, bridge, scope: routes ? 'routed' : 'bridged', hostPorts: plan.mode === 'bridge' ? [] : hostPorts, zone: plan.mode !== 'bridge' }
}
