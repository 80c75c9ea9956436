/**
 * open (libvirt's forward mode='open'): like routed — bridge, host address, DHCP/DNS, forwarding on —
 * but kvmnet adds no firewall rules at all; what passes is up to the host's own firewall.
 */
import type { NetworkDriver } from '../driver.js'
import { basePlan, bridgePart, forwardingSysctls, planTaps } from '../plan.js'
import { planDnsmasq } from '../plan-dnsmasq.js'
import { teardownNetwork } from '../steps/teardown.js'
import { applyBridgedNetwork, noExtraProblems } from './bridged.js'
import { checkDnsRecords } from './checks-dns.js'
import { bridgeAddresses, checkSomeAddress, checkIpv6, MAX_BRIDGE_PORTS, checkIpv4, checkPorts, bridgedNames } from './checks.js'

export const openDriver: NetworkDriver<'open'> = {
  mode: 'open',
  check(spec, bad) {
    checkIpv4(spec.ipv4, bad)
    checkDnsRecords(spec.dns, bad)
    checkSomeAddress(spec, bad)
    checkIpv6(spec.ipv6, spec.ipv4, spec.dns, bad)
    checkPorts(spec.ports, bad, { taken: bridgedNames(spec), maxPorts: MAX_BRIDGE_PORTS, noFilters: 'open' })
  },
  plan(spec) {
    const part = bridgePart(spec, bridgeAddresses(spec))
    return {
      ...basePlan(spec, planTaps(spec), forwardingSysctls(part)),
      ...part,
      dnsmasq: planDnsmasq(spec.name, part, spec.ipv4, spec.dns, { router: true, mtu: spec.mtu, ipv6: spec.ipv6 }),
    }
  },
  apply: applyBridgedNetwork,
  teardown: teardownNetwork,
  problems: noExtraProblems,
}
