/**
 * What coexistence with other firewalls works from (a target, derived from a network's spec and plan) and
 * what it leaves behind (a record, kept in the network's state so that `down`, a rollback and `gc` remove
 * exactly what kvmnet added — and nothing else).
 */

/** A host service guests must reach through an input-filtering firewall (ufw): DHCP, DNS, the spec's list. */
export interface HostPort {
  proto: 'tcp' | 'udp' | 'any'
  port: number
}

export interface CoexistTarget {
  network: string
  bridge: string
  /**
   * 'routed': guests' traffic is forwarded between the bridge and elsewhere (nat, routed, open), so the
   * bridge is accepted in and out; kvmnet's own table still decides what passes. 'bridged': only frames
   * bridged between the bridge's ports cross the forward hook (br_netfilter), so only bridge-to-bridge is
   * accepted (isolated, very-isolated, bridge — whose bridge also carries the host's LAN).
   */
  scope: 'routed' | 'bridged'
  /** Host input guests need (empty when the host has no address on the bridge, or for a bridge network). */
  hostPorts: HostPort[]
  /** Put the bridge into a permissive firewalld zone (not for a bridge network: its bridge is the host's LAN). */
  zone: boolean
}

/** Which firewalls are in the namespace, from one listing of its nftables chains and tables. */
export interface Detected {
  /** Families whose iptables-nft `filter` table has Docker's DOCKER-USER chain. */
  docker: (4 | 6)[]
  /** Families whose iptables-legacy (x_tables) `filter` table has DOCKER-USER: Docker run with iptables-legacy. */
  dockerLegacy?: (4 | 6)[] | undefined
  /** ufw's chains are loaded (ufw is active in this namespace). */
  ufw: boolean
  /** firewalld's table (`inet firewalld`) is there. */
  firewalld: boolean
  /** Base chains of tables none of the above (nor kvmnet) owns, that drop by policy. */
  foreignDrops: ForeignChain[]
}

export interface ForeignChain {
  family: string
  table: string
  name: string
  hook: string
  policy: string
}

/** The ufw rule kvmnet adds, in ufw's own canonical words (as `ufw show added` prints them, less the comment). */
export type UfwRule = string

/** What kvmnet added for one network, recorded in its state. */
export interface CoexistRecord {
  bridge: string
  /** Families in which rules tagged kvmnet:<network> went into DOCKER-USER (removed by that tag). */
  docker?: (4 | 6)[] | undefined
  /** The same, in iptables-legacy's DOCKER-USER. */
  dockerLegacy?: (4 | 6)[] | undefined
  /** ufw rules added with comment kvmnet:<network> (deleted with that comment: ufw only deletes a rule whose comment matches). */
  ufw?: UfwRule[] | undefined
  /** The firewalld zone the bridge was put in at runtime. */
  firewalld?: { zone: string } | undefined
}

/** Something in the namespace that will still block the network, said once per `up`. */
export interface CoexistWarning {
  code: 'nft-foreign-drop' | 'docker-forward-drop' | 'ufw-blocks' | 'firewalld-zone'
  /** The table/chain or tool responsible. */
  object: string
  message: string
  fix: string
}

/** The comment every rule kvmnet adds to another firewall carries. */
export function coexistTag(network: string): string {
  return `kvmnet:${network}`
}
