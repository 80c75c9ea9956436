/**
 * isolated: guests and (if it has an address) the host; nothing is forwarded from or to the bridge, so
 * DHCP hands out no default route and port forwards are refused (the rules would drop them anyway).
 */
import type { NetworkDriver } from '../driver.js'
import { portFilters, basePlan, bridgePart, hostOf, planDnsmasq, planTaps, type IsolatedPlan } from '../plan.js'
import { teardownNetwork } from '../steps/teardown.js'
import { applyBridgedNetwork, noExtraProblems } from './bridged.js'
import { checkIpv6, MAX_BRIDGE_PORTS, checkDns, checkIpv4, checkPorts } from './checks.js'

export const isolatedDriver: NetworkDriver<'isolated'> = {
  mode: 'isolated',
  check(spec, bad) {
    checkIpv4(spec.ipv4, bad)
    checkIpv6(spec.ipv6, spec.ipv4, spec.dns, bad)
    checkDns(spec.dns, spec.ipv4?.address, bad)
    checkPorts(spec.ports, bad, { taken: spec.bridge ? [{ name: spec.bridge, field: 'bridge' }] : [], maxPorts: MAX_BRIDGE_PORTS })
  },
  plan(spec) {
    const v4 = spec.ipv4?.address
    const part = bridgePart(spec, { v4, v6: spec.ipv6?.address })
    const firewall: IsolatedPlan['firewall'] = {
      tag: spec.name,
      bridge: part.bridge,
      mode: 'isolated',
      ...(v4 ? { ipv4: { subnet: part.subnet ?? '', hostAddress: hostOf(v4) } } : {}),
      ...(spec.ipv6 ? { ipv6: { subnet: part.subnet6 ?? '', hostAddress: hostOf(spec.ipv6.address) } } : {}),
      forwards: [],
      hostServices: spec.host?.services ?? 'all',
      portFilters: portFilters(planTaps(spec), spec.ipv4?.dhcp?.hosts ?? []),
    }
    return {
      ...basePlan(spec, planTaps(spec), []),
      ...part,
      firewall,
      dnsmasq: planDnsmasq(spec.name, part, spec.ipv4, spec.dns, { router: false, mtu: spec.mtu, ipv6: spec.ipv6 }),
    }
  },
  apply: applyBridgedNetwork,
  teardown: (ctx, plan) => teardownNetwork(ctx, plan, ctx.sysctlsOf),
  problems: noExtraProblems,
}
