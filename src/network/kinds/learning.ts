/**
 * Which kinds learn their guests' addresses from traffic (nft/learn.ts), and where. Every kind with a
 * bridge learns from frames entering by its ports (not by the NIC of a `bridge` network or a vxlan
 * segment: their senders are not this host's guests) — except `open`, whose promise is no kvmnet rules at
 * all: its guests' addresses are their leases only. macvtap networks learn on each port's egress.
 */
import type { AddressLearning } from '../../nft/index.js'
import type { NetworkPlan } from '../plan.js'
import { bridgeOf } from './plan-parts.js'

/** Seconds a learned address outlives the guest's last packet from it. */
export const LEARN_TIMEOUT_S = 60

export function learningOf(plan: NetworkPlan): AddressLearning | undefined {
  if (plan.mode === 'open') return undefined
  if (plan.mode === 'macvtap') {
    const devices = plan.ports.map((p) => p.name)
    return devices.length > 0 ? { tag: plan.name, family: 'netdev', devices, timeout: LEARN_TIMEOUT_S } : undefined
  }
  if (bridgeOf(plan) === undefined) return undefined
  return { tag: plan.name, family: 'bridge', ports: plan.ports.map((p) => p.name), timeout: LEARN_TIMEOUT_S }
}
