/** What `Network.addresses()` lists (addresses.ts reads it; the network's events carry it). */
/** One address a guest uses, on one of the network's ports. */
export interface PortAddress {
  /** The port's name (its tap or macvtap); absent for a lease whose MAC is no port's. */
  port?: string
  /** The guest's MAC: the frame's source, or the lease's. */
  mac: string
  address: string
  family: 4 | 6
  /**
   * 'lease': kvmnet's dnsmasq leased it (still valid); 'neighbour': not leased, learned from the guest's own
   * packets (ARP, IPv4 or IPv6 source) — a static address, SLAAC, a link-local address, a DHCP server
   * other than kvmnet's.
   */
  source: 'lease' | 'neighbour'
  /**
   * When the guest last sent from it (to the second), if it has since learning began; undefined for a
   * lease not seen in traffic. A learned address not used for the learning timeout (60 s) is gone.
   */
  lastSeen?: Date
  /** source 'lease': when the lease runs out (null: never). */
  leaseExpiresAt?: Date | null
}
