/** A network's recorded state as kvmnet writes it, for the unit tests of the state files (no kernel behind it). */
import type { NetworkState } from '../../src/network/state.js'

/** The state of an isolated network with one IPv4 address in the root namespace. */
export function isolatedState(name: string, address: string): NetworkState {
  return {
    version: 1,
    name,
    spec: { name, mode: 'isolated', ipv4: { address } },
    bridge: `kvbr-${name}`,
    group: 4242,
    netnsId: '4:4026531840',
    netnsPath: '/proc/1/ns/net',
    createdAt: new Date(0).toISOString(),
  } as NetworkState
}
