/**
 * doctor, the network's own bridge: what makes guests wait or drop packets without any firewall — STP
 * with a forward delay (a new tap forwards nothing through listening and learning), a bridge near the
 * kernel's port limit, and an MTU that differs between the bridge, what DHCP hands guests, and the NIC a
 * bridge network took over.
 */
import type { LinkInfo, Rtnl } from '../rtnl/index.js'
import type { NetworkState, PlannedNetwork } from '../network/index.js'
import type { Finding } from './findings.js'

/** BR_MAX_PORTS: the kernel numbers a bridge's ports 1–1023. */
const BRIDGE_PORT_LIMIT = 1023
/** From how many ports a bridge is "near" the limit: a few more guests and `up` is refused. */
export const PORTS_NEAR_LIMIT = 960

/** The findings for one bridge, from what the kernel says of it (pure: unit-tested). */
export function bridgeHealth(network: string, bridge: LinkInfo, ports: number, dhcpMtu: number | undefined, nic: LinkInfo | undefined): Finding[] {
  const out: Finding[] = []
  const name = bridge.name
  const br = bridge.bridge
  if (br?.stp && br.forwardDelay > 0) {
    out.push({
      code: 'stp-forward-delay',
      severity: 'warning',
      network,
      object: `${name}: stp_state 1, forward_delay ${br.forwardDelay} s`,
      problem: `STP is on: a new tap forwards nothing for up to ${2 * br.forwardDelay} s (listening, then learning), so a guest's first DHCP requests are lost`,
      fix: `ip link set ${name} type bridge stp_state 0 (kvmnet makes its bridges without STP), or forward_delay 2 where STP is needed`,
    })
  }
  if (ports >= PORTS_NEAR_LIMIT) {
    out.push({
      code: 'bridge-port-limit',
      severity: ports >= BRIDGE_PORT_LIMIT ? 'error' : 'warning',
      network,
      object: `${name}: ${ports} ports`,
      problem: `a bridge takes at most ${BRIDGE_PORT_LIMIT} ports: ${BRIDGE_PORT_LIMIT - ports} more guests fit`,
      fix: 'spread the guests over more networks (or a VXLAN segment across hosts)',
    })
  }
  if (dhcpMtu !== undefined && dhcpMtu !== bridge.mtu) {
    out.push({
      code: 'mtu-mismatch',
      severity: 'warning',
      network,
      object: `${name}: mtu ${bridge.mtu}, DHCP option 26 ${dhcpMtu}`,
      problem: `guests are told an MTU of ${dhcpMtu} on a bridge whose MTU is ${bridge.mtu}: ${dhcpMtu > bridge.mtu ? 'their large packets are dropped' : 'they send smaller packets than they could'}`,
      fix: `kvmnet up the network's spec again (it sets the bridge's MTU), or make its mtu ${bridge.mtu}`,
    })
  }
  if (nic && nic.mtu !== bridge.mtu) {
    out.push({
      code: 'mtu-mismatch',
      severity: 'warning',
      network,
      object: `${name}: mtu ${bridge.mtu}, ${nic.name} mtu ${nic.mtu}`,
      problem: `the bridge and the NIC it took over differ in MTU: frames larger than ${Math.min(bridge.mtu, nic.mtu)} bytes are dropped between the guests and the LAN`,
      fix: `ip link set ${name} mtu ${nic.mtu}`,
    })
  }
  return out
}

export async function bridgeFindings(rtnl: Rtnl, plans: readonly { state: NetworkState; net: PlannedNetwork }[]): Promise<Finding[]> {
  const out: Finding[] = []
  for (const { state, net } of plans) {
    if (net.bridge === undefined) continue
    const bridge = await rtnl.findLink(net.bridge)
    if (!bridge) continue
    const ports = (await rtnl.listLinks({ master: bridge.index })).length
    const nic = net.nic !== undefined ? await rtnl.findLink(net.nic) : undefined
    out.push(...bridgeHealth(state.name, bridge, ports, net.dnsmasq?.dhcp?.mtu, nic))
  }
  return out
}
