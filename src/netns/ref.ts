/**
 * The least a layer needs to know of a network namespace: the file that names it. Layers that only run
 * programs inside a namespace (nft, dnsmasq) take this rather than the full handle, so they can be used
 * with namespaces kvmnet did not create.
 */
export interface NetnsRef {
  /** Path of a namespace file: /run/netns/NAME, /proc/PID/ns/net. */
  readonly path: string
  /** Name under /run/netns, when it has one (used in state paths and messages). */
  readonly name?: string | undefined
  /** True when this is the namespace the Node process itself is in: programs then run without nsenter. */
  readonly isCurrent?: boolean
}
