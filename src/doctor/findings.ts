/** What doctor reports: one finding per object that blocks (or, as 'info', once blocked and is handled). */

export type FindingCode =
  | 'nft-foreign-drop'
  | 'docker-forward-drop'
  | 'br-netfilter-drop'
  | 'ip-forward-off'
  | 'port-in-use'
  | 'accept-ra-lost'
  | 'subnet-routed-elsewhere'
  | 'iptables-legacy'
  | 'ufw-input-drop'
  | 'ufw-routed-drop'
  | 'ufw-active'
  | 'firewalld-zone'
  | 'firewalld-active'
  | 'rp-filter-drop'
  | 'nic-managed'
  | 'state-unreadable'
  | 'stp-forward-delay'
  | 'bridge-port-limit'
  | 'mtu-mismatch'
  | 'host-requirement'
  | 'libvirt-collision'

export interface Finding {
  code: FindingCode
  /**
   * 'error': it blocks a network (doctor exits 1); 'warning': it may; 'info': a firewall that would block
   * and is handled (e.g. Docker's FORWARD drop with kvmnet's DOCKER-USER accepts in place).
   */
  severity: 'error' | 'warning' | 'info'
  /** The network it concerns, when it is one network's problem. */
  network?: string
  /** What is responsible: a table/chain, a process, a sysctl, a route. */
  object: string
  problem: string
  fix: string
}
