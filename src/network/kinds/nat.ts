/** nat: guests reach the outside masqueraded behind the host; port forwards (DNAT) reach guests. */
import { requiredSysctls } from '../../nft/index.js'
import type { NetworkDriver } from '../driver.js'
import { baseRules, basePlan, bridgePart, forwardingSysctls, planDnsmasq, planTaps, type NatPlan } from '../plan.js'
import { teardownNetwork } from '../steps/teardown.js'
import { applyBridgedNetwork, noExtraProblems } from './bridged.js'
import { checkIpv6, MAX_BRIDGE_PORTS, checkForwards, checkIpv4, checkPorts, bridgedNames } from './checks.js'

export const natDriver: NetworkDriver<'nat'> = {
  mode: 'nat',
  check(spec, bad) {
    checkIpv4(spec.ipv4, bad)
    checkIpv6(spec.ipv6, spec.ipv4, spec.dns, bad)
    checkForwards(spec.forwards, spec.ipv4.address, spec.ipv6?.address, bad)
    checkPorts(spec.ports, bad, { taken: bridgedNames(spec), maxPorts: MAX_BRIDGE_PORTS })
    if (spec.uplink !== undefined && spec.uplink === spec.bridge) bad('uplink', 'is the network\'s own bridge')
    if (spec.ipv6?.snat !== undefined && !spec.ipv6.nat66) bad('ipv6.snat', 'SNAT66 needs ipv6.nat66')
  },
  plan(spec) {
    const part = bridgePart(spec, { v4: spec.ipv4.address, v6: spec.ipv6?.address })
    const base = baseRules(spec, part, 'nat')
    const firewall: NatPlan['firewall'] = {
      ...base,
      ...(base.ipv6 ? { ipv6: { ...base.ipv6, nat66: spec.ipv6?.nat66 ?? false, snat: spec.ipv6?.snat } } : {}),
      nat: { uplink: spec.uplink, snat: spec.snat },
      forwards: (spec.forwards ?? []).map((f) => ({ ...f })),
    }
    const sysctls = [
      ...forwardingSysctls(part),
      ...requiredSysctls(firewall).map((r) => ({ key: r.path.replace(/^\/proc\/sys\//, ''), value: r.value })),
    ]
    return {
      ...basePlan(spec, planTaps(spec), sysctls),
      ...part,
      firewall,
      dnsmasq: planDnsmasq(spec.name, part, spec.ipv4, spec.dns, { router: true, mtu: spec.mtu, ipv6: spec.ipv6 }),
    }
  },
  apply: applyBridgedNetwork,
  teardown: teardownNetwork,
  problems: noExtraProblems,
}
