/**
 * routed (libvirt's forward mode='route'): bridge, host address, DHCP/DNS, and forwarding between the
 * bridge and the uplink without NAT — only for the network's own subnet, in both directions. Guests are
 * reached by their own addresses when the outside routes the subnet to the host.
 */
import type { NetworkDriver } from '../driver.js'
import { baseRules, basePlan, bridgePart, forwardingSysctls, planTaps, type RoutedPlan } from '../plan.js'
import { planDnsmasq } from '../plan-dnsmasq.js'
import { teardownNetwork } from '../steps/teardown.js'
import { applyBridgedNetwork, noExtraProblems } from './bridged.js'
import { checkDnsRecords } from './checks-dns.js'
import { bridgeAddresses, checkSomeAddress, checkIpv6, MAX_BRIDGE_PORTS, checkIpv4, checkPorts, bridgedNames } from './checks.js'

export const routedDriver: NetworkDriver<'routed'> = {
  mode: 'routed',
  check(spec, bad) {
    checkIpv4(spec.ipv4, bad)
    checkDnsRecords(spec.dns, bad)
    checkSomeAddress(spec, bad)
    checkIpv6(spec.ipv6, spec.ipv4, spec.dns, bad)
    checkPorts(spec.ports, bad, { taken: bridgedNames(spec), maxPorts: MAX_BRIDGE_PORTS })
    if (spec.uplink !== undefined && spec.uplink === spec.bridge) bad('uplink', 'is the network\'s own bridge')
  },
  plan(spec) {
    const part = bridgePart(spec, bridgeAddresses(spec))
    const firewall: RoutedPlan['firewall'] = { ...baseRules(spec, part, 'routed'), routed: { uplink: spec.uplink } }
    return {
      ...basePlan(spec, planTaps(spec), forwardingSysctls(part)),
      ...part,
      firewall,
      dnsmasq: planDnsmasq(spec.name, part, spec.ipv4, spec.dns, { router: true, mtu: spec.mtu, ipv6: spec.ipv6 }),
    }
  },
  apply: applyBridgedNetwork,
  teardown: teardownNetwork,
  problems: noExtraProblems,
}
