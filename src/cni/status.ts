/**
 * STATUS (CNI 1.1): can ADD be served? A network that is not up yet is fine (the first ADD brings it up)
 * as long as what it needs is installed (dnsmasq, and the nft program where libnftables cannot be loaded): else 50. A network that is up but not healthy
 * (bridge, nft rules, dnsmasq — existing containers may have lost DNS or their way out) is 51. A DHCP range
 * with no free address left is 50 (no ADD can succeed).
 */
import { join } from 'node:path'
import { freeAddresses } from './allocate.js'
import type { CniConfig, CniNetworkSpec } from './config.js'
import { CniCode, CniError } from './errors.js'
import { openIfUp } from './network.js'
import { libnftablesUnavailable } from '../nft/index.js'
import { isExecutable } from '../util/index.js'

function onPath(program: string): boolean {
  return (process.env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((dir) => isExecutable(join(dir, program)))
}

export async function status(cfg: CniConfig): Promise<void> {
  const net = await openIfUp(cfg)
  if (!net) {
    // With libnftables kvmnet changes nftables in process: the nft program is then not needed at all.
    const needs = libnftablesUnavailable() === undefined ? ['dnsmasq'] : ['nft', 'dnsmasq']
    const missing = needs.filter((p) => !onPath(p))
    if (missing.length > 0) throw new CniError(CniCode.NotAvailable, 'plugin not available', `not installed: ${missing.join(', ')} (network ${cfg.spec.name} cannot be brought up)`)
    return
  }
  try {
    const st = await net.status()
    if (st.problems.length > 0) throw new CniError(CniCode.LimitedConnectivity, 'network not ready', `network ${net.name}: ${st.problems.join('; ')}`)
    const leased = new Set(st.leases.filter((l) => l.family === 4).map((l) => l.ip))
    if (freeAddresses(net.spec as CniNetworkSpec, leased) === 0) throw new CniError(CniCode.NotAvailable, 'plugin not available', `network ${net.name}: no free address left in its DHCP range`)
  } finally {
    net.close()
  }
}
