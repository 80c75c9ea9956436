/**
 * isolated: guests and (if it has an address) the host; nothing is forwarded from or to the bridge, so
 * DHCP hands out no default route and port forwards are refused (the rules would drop them anyway).
 */
import type { NetworkDriver } from '../driver.js'
import { baseRules, basePlan, bridgePart, planTaps, type IsolatedPlan } from '../plan.js'
import { planDnsmasq } from '../plan-dnsmasq.js'
import { teardownNetwork } from '../steps/teardown.js'
import { applyBridgedNetwork, noExtraProblems } from './bridged.js'
import { checkDnsRecords } from './checks-dns.js'
import { bridgeAddresses, checkSomeAddress, checkIpv6, MAX_BRIDGE_PORTS, checkDns, checkIpv4, checkPorts, bridgedNames } from './checks.js'

export const isolatedDriver: NetworkDriver<'isolated'> = {
  mode: 'isolated',
  check(spec, bad) {
    checkIpv4(spec.ipv4, bad)
    checkDnsRecords(spec.dns, bad)
    checkIpv6(spec.ipv6, spec.ipv4, spec.dns, bad)
    checkDns(spec.dns, spec.ipv4?.address ?? spec.ipv6?.address, bad)
    checkPorts(spec.ports, bad, { taken: bridgedNames(spec), maxPorts: MAX_BRIDGE_PORTS })
  },
  plan(spec) {
    const part = bridgePart(spec, bridgeAddresses(spec))
    const firewall: IsolatedPlan['firewall'] = baseRules(spec, part, 'isolated')
    return {
      ...basePlan(spec, planTaps(spec), []),
      ...part,
      firewall,
      dnsmasq: planDnsmasq(spec.name, part, spec.ipv4, spec.dns, { router: false, mtu: spec.mtu, ipv6: spec.ipv6 }),
    }
  },
  apply: applyBridgedNetwork,
  teardown: teardownNetwork,
  problems: noExtraProblems,
}
