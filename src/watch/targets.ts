/**
 * What a watcher of one network looks after: its nft tables, its bridge, its ports (and whether they
 * belong on the bridge), other links it made and the host addresses each must carry. The network's kind
 * decides what that is (network/kinds/watch-targets.ts); the watcher only compares notifications with it.
 */
import { ipaddr } from '../util/index.js'

export interface WatchTargets {
  /** The network's nft tables, as (family, name). */
  tables: { family: number; name: string }[]
  /** The bridge kvmnet made for the network (absent for macvtap networks). */
  bridge: string | undefined
  /** Port names; `enslaved`: the port belongs on the bridge. */
  ports: Map<string, { enslaved: boolean }>
  /** The alias every finished port carries (a port still being made has none yet). */
  portAlias: string
  /** Other links the network made. */
  links: Set<string>
  /**
   * Devices that carry kvmnet's bandwidth limits (qdiscs, classes, filters) and the IFBs it made for
   * them: a deletion there, or of such an IFB, is a loss.
   */
  shaped: Set<string>
  /** Link name → its planned host addresses, spelt by canonCidr (10.0.0.1/24, fd00::1/64). */
  addresses: Map<string, Set<string>>
}

/** One spelling per address: 10.0.0.1/24, fd00::1/64 (RFC 5952); undefined for what is not a CIDR. */
export function canonCidr(cidr: string): string | undefined {
  try {
    const [a, len] = ipaddr.parseCIDR(cidr)
    return `${a.toString()}/${len}`
  } catch {
    return undefined
  }
}
