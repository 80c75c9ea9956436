/**
 * Port mappings never capture a kvmnet network's DNS or DHCP: a mapping of udp/53 (tcp/53, udp/67,
 * udp/547) on every host address, or on the host address of this or any other kvmnet network in the same
 * namespace, would hand those networks' resolver or DHCP to one container. Checked before anything is
 * touched (the library refuses such forwards too, by kvmnet's own field names).
 */
import { capturedService, hostAddressesOf } from '../network/index.js'
import { listStates, stateLabel } from '../network/index.js'
import type { CniConfig } from './config.js'
import { forwardOf } from './edits.js'
import { CniCode, CniError } from './errors.js'
import { networkNs, networkNsId } from './sandbox.js'

export async function assertNoServiceCapture(cfg: Pick<CniConfig, 'spec' | 'stateRoot' | 'portMappings'>): Promise<void> {
  if (cfg.portMappings.length === 0) return
  const nsId = networkNsId(cfg.spec)
  // Only the namespace's own directory of the state root: a host's other namespaces are never read.
  const others = (await listStates(cfg.stateRoot, stateLabel(networkNs(cfg.spec)))).states.filter((o) => o.state.name !== cfg.spec.name && o.state.netnsId === nsId)
  const networks = [{ name: cfg.spec.name, addresses: hostAddressesOf(cfg.spec) }, ...others.map((o) => ({ name: o.state.name, addresses: hostAddressesOf(o.state.spec) }))]
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
