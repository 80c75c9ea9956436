/**
 * Port mappings never capture a kvmnet network's DNS or DHCP: a mapping of udp/53 (tcp/53, udp/67,
 * udp/547) on every host address, or on the host address of this or any other kvmnet network in the same
 * namespace, would hand those networks' resolver or DHCP to one container. Checked before anything is
 * touched (the library refuses such forwards too, by kvmnet's own field names).
 *
 * Only a mapping of one of those ports can capture anything: the usual ADD (a web port or none) reads no
 * other network's state. One that can is checked against the other networks as an apply's own checks read
 * them (other-states.ts: each file read once while it is unchanged, shared with the apply that follows).
 */
import { capturedService, hostAddressesOf, otherNetworks, stateLabel } from '../network/index.js'
import type { CniConfig, PortMapping } from './config.js'
import { forwardOf } from './edits.js'
import { CniCode, CniError } from './errors.js'
import { networkNs, networkNsId } from './sandbox.js'

/** Whether `m` maps a DNS or DHCP port at all, on whatever address: only such a mapping can capture one. */
function mapsServicePort(m: PortMapping): boolean {
  const f = forwardOf(m, '0.0.0.0')
  return capturedService(f, f.hostAddress === undefined ? [] : [f.hostAddress]) !== undefined
}

export async function assertNoServiceCapture(cfg: Pick<CniConfig, 'spec' | 'stateRoot' | 'portMappings'>): Promise<void> {
  if (!cfg.portMappings.some(mapsServicePort)) return
  const nsId = networkNsId(cfg.spec)
  // Only the namespace's own directory of the state root: a host's other namespaces are never read.
  const others = otherNetworks(cfg.stateRoot, stateLabel(networkNs(cfg.spec)), cfg.spec.name).filter((o) => o.netnsId === nsId)
  const networks = [{ name: cfg.spec.name, addresses: hostAddressesOf(cfg.spec) }, ...others.map((o) => ({ name: o.name, addresses: hostAddressesOf(o.spec) }))]
  cfg.portMappings.forEach((m, i) => {
    const f = forwardOf(m, '0.0.0.0')
    for (const n of networks) {
      const service = capturedService(f, n.addresses)
      if (!service) continue
      const where = m.hostIP ? `on ${m.hostIP}` : 'on every host address (no hostIP)'
      const whose = m.hostIP ? `network ${n.name}'s ${service}` : `the ${service} of every kvmnet network here`
      throw new CniError(CniCode.InvalidConfig, 'invalid network configuration', `runtimeConfig.portMappings[${i}]: ${m.protocol}/${m.hostPort} ${where} would capture ${whose}; map another port, or give a hostIP that is no kvmnet network's`)
    }
  })
}
