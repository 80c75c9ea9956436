/**
 * The one rule for names of interfaces kvmnet creates or is given in a spec: 1–15 bytes of letters,
 * digits, '_', '-' and '.', not '.' or '..'. The kernel (dev_valid_name) allows more (only '/', ':' and
 * whitespace are banned), but every layer a name travels through must accept it too: nft rule
 * expressions, dnsmasq's `interface=` option, file names under the state directory and udev. Checking
 * the spec against this one rule is what keeps a name from failing half-way through an apply. `all` and
 * `default` the kernel refuses for any device (they are the /proc/sys/net/ipv{4,6}/conf/ entries of their own).
 */
export const IFNAME_PATTERN = /^[A-Za-z0-9_.-]{1,15}$/

export const IFNAME_RULE = "an interface name: 1-15 of letters, digits, '_', '-' and '.' (not ., .., all or default)"

const NOT_IFNAMES: ReadonlySet<string> = new Set(['.', '..', 'all', 'default'])

export function isIfName(s: string): boolean {
  return IFNAME_PATTERN.test(s) && !NOT_IFNAMES.has(s)
}
