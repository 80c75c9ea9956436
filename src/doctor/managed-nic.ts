/**
 * doctor, bridge networks: who else manages the enslaved NIC. A DHCP client still running on it renews
 * onto the enslaved NIC (the host then answers ARP from the wrong device, and the bridge's address expires
 * unrenewed); NetworkManager takes the device back. Clients kvmnet itself runs on the bridge (handed over
 * with adoptManagedInterface) are kvmnet's, not findings.
 */
import type { Netns } from '../netns/index.js'
import type { Rtnl } from '../rtnl/index.js'
import type { NetworkPlan } from '../network/plan.js'
import type { NetworkState } from '../network/state.js'
import { describeManager, handOverHint, nicManagers } from '../network/nic-manager.js'
import type { Finding } from './doctor.js'

export async function managedNicFindings(ns: Netns, rtnl: Rtnl, plans: readonly { state: NetworkState; plan: NetworkPlan }[]): Promise<Finding[]> {
  const out: Finding[] = []
  for (const { state, plan } of plans) {
    if (plan.mode !== 'bridge') continue
    const nic = await rtnl.findLink(plan.nic)
    if (!nic) continue
    for (const m of await nicManagers(ns, nic.name, nic.index)) {
      out.push({
        code: 'nic-managed',
        severity: 'error',
        network: state.name,
        object: `${describeManager(m)} on ${nic.name}`,
        problem: `${nic.name} is enslaved to ${plan.bridge}, but ${describeManager(m)} still configures it and will fight over its addresses`,
        fix: `${handOverHint(m, nic.name, plan.bridge)}; or kvmnet down ${state.name} and up again with adoptManagedInterface: true`,
      })
    }
  }
  return out
}
