/**
 * doctor, bridge networks: who else manages the enslaved NIC. A DHCP client still running on it renews
 * onto the enslaved NIC (the host then answers ARP from the wrong device, and the bridge's address expires
 * unrenewed); NetworkManager takes the device back. Clients kvmnet itself runs on the bridge (handed over
 * with adoptManagedInterface) are kvmnet's, not findings.
 */
import type { Netns } from '../netns/index.js'
import type { Rtnl } from '../rtnl/index.js'
import { describeManager, handOverHint, nicManagers, type NetworkState, type PlannedNetwork } from '../network/index.js'
import type { Finding } from './findings.js'

export async function managedNicFindings(ns: Netns, rtnl: Rtnl, plans: readonly { state: NetworkState; net: PlannedNetwork }[]): Promise<Finding[]> {
  const out: Finding[] = []
  for (const { state, net } of plans) {
    const bridge = net.bridge
    const nic = net.nic === undefined || bridge === undefined ? undefined : await rtnl.findLink(net.nic)
    if (!nic || bridge === undefined) continue
    for (const m of await nicManagers(ns, nic.name, nic.index)) {
      out.push({
        code: 'nic-managed',
        severity: 'error',
        network: state.name,
        object: `${describeManager(m)} on ${nic.name}`,
        problem: `${nic.name} is enslaved to ${bridge}, but ${describeManager(m)} still configures it and will fight over its addresses`,
        fix: `${handOverHint(m, nic.name, bridge)}; or kvmnet down ${state.name} and up again with adoptManagedInterface: true`,
      })
    }
  }
  return out
}
