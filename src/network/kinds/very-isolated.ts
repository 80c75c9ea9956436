/**
 * very-isolated: guests share L2 only. The bridge has no host address — not even an IPv6 link-local one
 * — no DHCP, no DNS; the host is not on this network at all.
 */
import type { NetworkDriver } from '../driver.js'
import { basePlan, bridgePart, planTaps } from '../plan.js'
import { teardownNetwork } from '../steps/teardown.js'
import { applyBridgedNetwork, noExtraProblems } from './bridged.js'
import { MAX_BRIDGE_PORTS, checkPorts, bridgedNames } from './checks.js'

export const veryIsolatedDriver: NetworkDriver<'very-isolated'> = {
  mode: 'very-isolated',
  check(spec, bad) {
    checkPorts(spec.ports, bad, { taken: bridgedNames(spec), maxPorts: MAX_BRIDGE_PORTS, noFilters: 'very-isolated' })
  },
  plan(spec) {
    return { ...basePlan(spec, planTaps(spec), []), ...bridgePart(spec, {}) }
  },
  apply: applyBridgedNetwork,
  teardown: teardownNetwork,
  problems: noExtraProblems,
}
