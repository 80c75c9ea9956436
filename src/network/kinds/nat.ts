/** nat: guests reach the outside masqueraded behind the host; port forwards (DNAT) reach guests. */
import { requiredSysctls } from '../../nft/index.js'
import type { NetworkDriver } from '../driver.js'
import { baseRules, basePlan, bridgePart, forwardingSysctls, planTaps, type NatPlan } from '../plan.js'
import { planDnsmasq } from '../plan-dnsmasq.js'
import { teardownNetwork } from '../steps/teardown.js'
import { applyBridgedNetwork, noExtraProblems } from './bridged.js'
import { checkDnsRecords } from './checks-dns.js'
import { bridgeAddresses, checkSomeAddress, checkIpv6, MAX_BRIDGE_PORTS, checkForwards, checkIpv4, checkPorts, bridgedNames } from './checks.js'

export const natDriver: NetworkDriver<'nat'> = {
  mode: 'nat',
  check(spec, bad) {
    checkIpv4(spec.ipv4, bad)
    checkDnsRecords(spec.dns, bad)
    checkSomeAddress(spec, bad)
    checkIpv6(spec.ipv6, spec.ipv4, spec.dns, bad)
    checkForwards(spec.forwards, spec.ipv4?.address, spec.ipv6?.address, bad)
    checkPorts(spec.ports, bad, { taken: bridgedNames(spec), maxPorts: MAX_BRIDGE_PORTS })
    if (spec.uplink !== undefined && spec.uplink === spec.bridge) bad('uplink', 'is the network\'s own bridge')
    if (spec.ipv6?.snat !== undefined && !spec.ipv6.nat66) bad('ipv6.snat', 'SNAT66 needs ipv6.nat66')
    if (spec.snat !== undefined && spec.ipv4 === undefined) bad('snat', 'SNAT to an IPv4 address needs ipv4')
    if (spec.ipv4 === undefined && !spec.ipv6?.nat66 && spec.forwards?.length) bad('forwards', 'an IPv6-only nat network without ipv6.nat66 is routed: guests are reached by their own addresses, not forwards')
  },
  plan(spec) {
    const part = bridgePart(spec, bridgeAddresses(spec))
    // An IPv6-only network masquerades only with nat66; otherwise its IPv6 is routed (libvirt's meaning
    // of forward mode nat without <nat ipv6='yes'>).
    const routedOnly = spec.ipv4 === undefined && !spec.ipv6?.nat66
    const base = baseRules(spec, part, routedOnly ? 'routed' : 'nat')
    const firewall: NatPlan['firewall'] = {
      ...base,
      ...(base.ipv6 ? { ipv6: { ...base.ipv6, nat66: spec.ipv6?.nat66 ?? false, snat: spec.ipv6?.snat } } : {}),
      ...(routedOnly ? { routed: { uplink: spec.uplink } } : { nat: { uplink: spec.uplink, snat: spec.snat } }),
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
