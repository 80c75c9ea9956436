/**
 * Kernel settings the rules rely on. The network layer sets (and later restores) them; this module only
 * says which, because only the rules know why.
 */
import type { NetworkRules, RequiredSysctl } from './model.js'
import { checkRules, type CheckedRules } from './validate.js'

/**
 * True when an IPv4 forward is reachable via 127.0.0.1 from the host: it has no inInterface (host traffic
 * arrives on none) and is not bound to a non-loopback host address.
 */
export function forwardsNeedLocalnet(r: CheckedRules): boolean {
  return r.mode === 'nat' && r.forwards.some((f) => f.family === 'ip' && f.inInterface === undefined && (f.hostAddress === undefined || f.hostAddress.startsWith('127.')))
}

/**
 * Sysctls the rules of `rules` need. Today: route_localnet on the bridge when a forward must work via
 * 127.0.0.1. After the output-hook DNAT the kernel re-routes a packet whose source is 127.0.0.1 out of the
 * bridge; __mkroute_output() refuses a loopback source on a non-loopback device unless route_localnet is
 * set on that OUTPUT device (or on 'all', which would loosen every interface), so the bridge is the only
 * device that needs it. Forwarding itself (ip_forward) is the network layer's business, not the rules'.
 */
export function requiredSysctls(rules: NetworkRules): RequiredSysctl[] {
  const r = checkRules(rules)
  if (!forwardsNeedLocalnet(r)) return []
  return [
    {
      key: `net.ipv4.conf.${r.bridge.replaceAll('.', '/')}.route_localnet`,
      value: '1',
      path: `/proc/sys/net/ipv4/conf/${r.bridge}/route_localnet`,
      reason: 'port forwards reachable via 127.0.0.1 leave through the bridge with a loopback source',
    },
  ]
}
