/**
 * The edits that only append rules, as the rules before and after: their documents are golden files
 * (test/unit/fixtures/nft/<name>.json, made by renderAddsOnly in the unit test), which the real nft
 * accepts on top of the tables the rules before make (nft-traffic's golden check).
 */
import type { NetworkRules, PortForward } from '../../src/nft/index.js'

export const v4 = { subnet: '192.168.100.0/24', hostAddress: '192.168.100.1' }
export const v6 = { subnet: 'fd00:100::/64', hostAddress: 'fd00:100::1' }
export const nat = (extra: Partial<NetworkRules> = {}): NetworkRules => ({ tag: 'net1', bridge: 'kvbr-net1', mode: 'nat', ipv4: v4, ...extra })
export const f1: PortForward = { proto: 'tcp', hostPort: 2222, guest: '192.168.100.10', guestPort: 22 }
export const f2: PortForward = { proto: 'tcp', hostPort: 8080, guest: '192.168.100.11', guestPort: 80 }
export const f6a: PortForward = { proto: 'tcp', hostPort: 8443, guest: 'fd00:100::10', guestPort: 443 }
export const f6b: PortForward = { proto: 'udp', hostPort: 5353, guest: 'fd00:100::11', guestPort: 53 }
export const pf1 = { port: 'vm1', mac: '52:54:00:00:00:01', ipv4: '192.168.100.10', othersIpv4: ['192.168.100.11'] }
export const pf2 = { port: 'vm2', mac: '52:54:00:00:00:02', ipv4: '192.168.100.11', othersIpv4: ['192.168.100.10'] }

export const appends: Record<string, [NetworkRules, NetworkRules]> = {
  'adds-forward': [nat({ forwards: [f1] }), nat({ forwards: [f1, f2] })],
  'adds-forward-snat': [nat({ nat: { snat: '198.51.100.7' }, forwards: [f1] }), nat({ nat: { snat: '198.51.100.7' }, forwards: [f1, f2] })],
  'adds-forward-ipv6': [
    nat({ ipv6: { ...v6, nat66: true, snat: '2001:db8:1::99' }, forwards: [f1, f6a] }),
    nat({ ipv6: { ...v6, nat66: true, snat: '2001:db8:1::99' }, forwards: [f1, f6a, f6b] }),
  ],
  'adds-port-filter': [nat({ portFilters: [pf1] }), nat({ portFilters: [pf1, pf2] })],
}

