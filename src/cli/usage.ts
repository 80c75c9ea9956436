/**
 * Usage text, with no imports: `kvmnet --help`, `kvmnet help CMD` and `kvmnet CMD --help` load nothing
 * else, so they start as fast as Node itself.
 */
export const COMMON = `Options every command takes:
  --netns NS          namespace: a name under /run/netns or a path (default: the current one)
  --state-root DIR    where kvmnet keeps network state (default /run/kvmnet)
  --json              machine-readable output, errors included ({"error": {...}} on stderr)
  -h, --help          this command's help`

export const COMMANDS: Record<string, { synopsis: string; summary: string; details?: string }> = {
  up: {
    synopsis: 'kvmnet up SPEC.json [--foreground] [--prune] [--wait S] [--timings]',
    summary: 'create a network, or converge a running one to the spec (SPEC - reads stdin)',
    details: `  --foreground   supervise dnsmasq, put back what is lost (the nft table flushed, the bridge, a port or an
                 address deleted, a port set down, dnsmasq dead: one 'repaired' line each) and take the
                 network down on SIGINT/SIGTERM, waiting for a repair under way and for another writer's
                 lock; a second signal does not cut the teardown short. SIGHUP reads SPEC.json again and
                 converges to it (a file that does not validate changes nothing). Without --foreground,
                 dnsmasq is detached and nothing watches
  --prune        also remove what was added at runtime (ports, forwards, reservations) that the spec lacks
                 (not what a kvmnet-cni attachment holds: it stays until the attachment's DEL or GC)
  --wait S       wait up to S seconds for another writer of the network (default 0: exit 75 at once)
  --timings      print the per-step timings
Prints what guests need: port names, guest MACs (give them to QEMU), /dev/tapN, the bridge, gateway and DNS.`,
  },
  plan: { synopsis: 'kvmnet plan SPEC.json (or up SPEC.json --dry-run)', summary: 'what up would create (+), change (~) and remove (-), touching nothing' },
  down: { synopsis: 'kvmnet down NAME', summary: 'remove a network and everything it created; a missing network is not an error' },
  status: {
    synopsis: 'kvmnet status [NAME] [--all]',
    summary: 'networks of the namespace (every namespace with --all), or one network in detail',
  },
  list: { synopsis: 'kvmnet list', summary: 'every network kvmnet knows, in every namespace (status --all)' },
  port: { synopsis: 'kvmnet port add|rm NET NAME [--mac M] [--owner UID] [--queues N] [--force]', summary: 'add or remove a VM port of a running network (rm refuses a tap still held open without --force)' },
  forward: { synopsis: 'kvmnet forward add|rm NET tcp|udp HOSTPORT[-LAST] [GUEST[:PORT]]', summary: 'add or remove a port forward (nat networks)' },
  reservation: { synopsis: 'kvmnet reservation add|rm NET MAC [IP [NAME]]', summary: 'add or remove a DHCP reservation (rm: by MAC or IP)' },
  peer: {
    synopsis: 'kvmnet peer add|rm NET IP',
    summary: "add or remove a VXLAN peer of a running network (another host's underlay address)",
    details: `  The network's spec needs a vxlan section. Floods (broadcast, unknown unicast, multicast) are sent to
  every peer; rm stops them and forgets the guest MACs learned behind that peer. Recorded as a runtime
  addition: a later up of a spec file without the peer refuses unless --prune.`,
  },
  leases: { synopsis: 'kvmnet leases NAME [--watch]', summary: "DHCP leases, read from dnsmasq's lease file; --watch: lease events as they happen (JSON lines with --json)" },
  addresses: {
    synopsis: 'kvmnet addresses NAME [--json]',
    summary: "every guest's addresses: leases, and addresses learned from the guests' own traffic (static, SLAAC, link-local)",
    details: `  source lease: kvmnet's dnsmasq leased it; neighbour: learned in the kernel from the guest's ARP, IPv4
  and IPv6 packets (nft dynamic sets; none on open networks). A learned address ages out 60 s after the
  guest last sent from it.`,
  },
  ports: { synopsis: 'kvmnet ports NAME', summary: 'VM ports: taps, and macvtaps with their /dev/tapN' },
  'port-xml': {
    synopsis: 'kvmnet port-xml NAME PORT',
    summary: "the libvirt <interface> element attaching a domain to the port (virsh attach-device, or paste into the domain XML)",
    details: `  type='ethernet' with <target dev=PORT managed='no'/>: libvirt opens kvmnet's tap or macvtap as it is and
  never creates, moves or deletes it. The port must be persistent (the default).`,
  },
  doctor: { synopsis: 'kvmnet doctor [NAME]', summary: "what on this host blocks the namespace's networks (other firewalls, forwarding off, ports taken, ...), with the fix; exit 1 on errors" },
  gc: { synopsis: 'kvmnet gc', summary: 'finish what crashed kvmnet processes left (networks, links, tables, state)' },
  enable: {
    synopsis: 'kvmnet enable SPEC.json [--root DIR]',
    summary: 'run the network under systemd from boot: copies the spec to /etc/kvmnet/NAME.json, installs kvmnet@.service',
    details: `  --root DIR     write under DIR instead of / (an image being prepared); systemd is then not reloaded
--netns and --state-root given here are passed to every start. Then: systemctl enable --now kvmnet@NAME`,
  },
  disable: { synopsis: 'kvmnet disable NAME [--root DIR]', summary: "stop the network's unit and remove it and its spec copy (the template goes with the last one)" },
  demo: { synopsis: 'kvmnet demo', summary: 'build every network kind in scratch namespaces and measure it with real packets' },
  schema: { synopsis: 'kvmnet schema', summary: 'print the JSON Schema of SPEC.json' },
  'import-libvirt': {
    synopsis: 'kvmnet import-libvirt FILE.xml [--interface NIC]',
    summary: "a libvirt network's XML (virsh net-dumpxml; - reads stdin) as a kvmnet spec on stdout, notes on stderr",
    details: `  --netns NS     the spec's netns
  --interface N  for a libvirt network on an existing host bridge (<forward mode='bridge'> with <bridge name>):
                 the NIC in that bridge, which kvmnet's bridge mode enslaves to a bridge it builds itself
What kvmnet cannot carry over faithfully (hostdev, <virtualport>, <vlan>, dnsmasq:options, tftp/bootp, ...)
is refused with one line naming the element and attribute (exit 2); nothing is dropped silently.`,
  },
  help: { synopsis: 'kvmnet help [COMMAND]', summary: 'this help, or one command\'s' },
}

export function mainUsage(): string {
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.synopsis.length))
  const lines = Object.values(COMMANDS).map((c) => `  ${c.synopsis.padEnd(width)}  ${c.summary}`)
  return `kvmnet — virtual networks for KVM/QEMU guests on the Linux kernel

Usage:
${lines.join('\n')}

${COMMON}
  -V, --version       kvmnet's version

Exit codes: 0 ok, 1 failure, 2 bad input, 75 another writer holds the network.
`
}

export function commandUsage(name: string): string | undefined {
  const c = COMMANDS[name]
  if (!c) return undefined
  return `Usage: ${c.synopsis}\n\n${c.summary}\n${c.details ? `\n${c.details}\n` : ''}\n${COMMON}\n`
}
