/**
 * libvirt's own networks beside kvmnet's: one whose bridge name or subnet is a kvmnet network's, in the
 * namespace doctor examines. A running one breaks both networks now (two bridges routing one subnet, or
 * one bridge claimed twice); a defined one breaks them at its `virsh net-start` or next autostart, which
 * kvmnet's `up` refuses ahead of time but a network already up cannot see coming.
 */
import { describeCollision, libvirtCollisions, libvirtNetnsIds, libvirtNetworks } from '../libvirt-host/index.js'
import type { NetworkState, PlannedNetwork } from '../network/index.js'
import type { Finding } from './findings.js'

export async function libvirtFindings(netnsId: string | undefined, plans: readonly { state: NetworkState; net: PlannedNetwork }[]): Promise<Finding[]> {
  if (netnsId === undefined || plans.length === 0) return []
  const networks = await libvirtNetworks()
  if (networks.length === 0 || !(await libvirtNetnsIds()).has(netnsId)) return []
  const out: Finding[] = []
  for (const { state, net } of plans) {
    for (const c of libvirtCollisions({ bridge: net.bridge, subnet: net.subnet, subnet6: 'subnet6' in net.plan ? net.plan.subnet6 : undefined }, networks)) {
      out.push({
        code: 'libvirt-collision',
        severity: c.network.active ? 'error' : 'warning',
        network: state.name,
        object: `libvirt network ${c.network.name}`,
        problem: `${state.name}'s ${c.field} collides with the ${describeCollision(c)}`,
        fix: c.network.active
          ? `virsh net-destroy ${c.network.name} (and net-autostart --disable), or move ${state.name} to another ${c.field === 'bridge' ? 'bridge name' : 'subnet'}`
          : `virsh net-undefine ${c.network.name} or change its ${c.field === 'bridge' ? '<bridge name>' : '<ip>'}, or move ${state.name} to another ${c.field === 'bridge' ? 'bridge name' : 'subnet'}`,
      })
    }
  }
  return out
}
