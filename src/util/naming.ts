/**
 * The one home of kvmnet's naming rules: interface names, MAC addresses, DUIDs and network names. Every
 * layer that checks one of these (the spec schema, dnsmasq's options, nft's rules, the CLI, kvmnet-cni)
 * uses the rule from here, so a name one layer accepts never fails half-way through another.
 */

/**
 * Interfaces kvmnet creates or is given in a spec: 1–15 bytes of letters, digits, '_', '-' and '.', not
 * '.' or '..'. The kernel (dev_valid_name) allows more (only '/', ':' and whitespace are banned), but
 * every layer a name travels through must accept it too: nft rule expressions, dnsmasq's `interface=`
 * option, file names under the state directory and udev.
 */
export const IFNAME_PATTERN = /^[A-Za-z0-9_.-]{1,15}$/

export const IFNAME_RULE = "an interface name: 1-15 of letters, digits, '_', '-' and '.' (not ., .., all or default)"

/** `all` and `default` the kernel refuses for any device (they are /proc/sys/net/ipv{4,6}/conf/ entries of their own). */
const NOT_IFNAMES: ReadonlySet<string> = new Set(['.', '..', 'all', 'default'])

export function isIfName(s: string): boolean {
  return IFNAME_PATTERN.test(s) && !NOT_IFNAMES.has(s)
}

/** A MAC address written as six colon-separated hex bytes (either case). */
export const MAC_PATTERN = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/

export function isMac(s: unknown): s is string {
  return typeof s === 'string' && MAC_PATTERN.test(s)
}

/** A DHCP unique identifier in hex (RFC 8415: 4 to 130 bytes), colon-separated. */
export const DUID_PATTERN = /^([0-9a-fA-F]{2}:){3,129}[0-9a-fA-F]{2}$/

/**
 * A network's name: it names its state directory, its nft table, its systemd instance and (hashed when
 * long) its bridge, so it is plain: 1-32 letters, digits, '_' or '-', starting with a letter or digit.
 */
export const NETWORK_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/

export const NETWORK_NAME_RULE = '1-32 letters, digits, _ or -, starting with a letter or digit'

export function isNetworkName(s: unknown): s is string {
  return typeof s === 'string' && NETWORK_NAME_PATTERN.test(s)
}
