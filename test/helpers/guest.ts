/**
 * Guests and the outside world for network tests, built with iproute2 so that what is tested (kvmnet) is
 * not also what builds the fixture: a guest is a namespace wired to a bridge by a veth; busybox udhcpc
 * gets its address; busybox ping and socat prove reachability.
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeNs, type TestNs } from './ns.js'
import { scratchDir } from './scratch.js'

interface Teardownable {
  teardown(fn: () => unknown): void
}

const SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "\${router%% *}" dev "$interface"
    echo "LEASE ip=$ip mask=$mask router=\${router%% *} hostname=$hostname domain=$domain dns=$dns"
    ;;
esac
exit 0
`

let scriptPath: string | undefined
export function udhcpcScript(): string {
  if (!scriptPath) {
    scriptPath = join(scratchDir('kvmnet-test-'), 'udhcpc.sh')
    writeFileSync(scriptPath, SCRIPT, { mode: 0o755 })
  }
  return scriptPath
}

export interface Lease {
  ip: string
  mask: number
  router: string
  hostname: string
  domain: string
  dns: string
}

/** Run busybox udhcpc on eth0 of a guest; the lease it got, or undefined. */
export async function dhcp(guest: TestNs, ifname = 'eth0', opts: { hostname?: string; tries?: number } = {}): Promise<Lease | undefined> {
  const args = ['udhcpc', '-i', ifname, '-n', '-q', '-f', '-t', String(opts.tries ?? 4), '-T', '1', '-s', udhcpcScript()]
  if (opts.hostname) args.push('-x', `hostname:${opts.hostname}`)
  const r = await guest.try('busybox', args, { timeout: 20_000 })
  const m = r.stdout.match(/LEASE ip=(\S+) mask=(\S+) router=(\S*) hostname=(\S*) domain=(\S*) dns=(.*)$/m)
  if (r.exitCode !== 0 || !m) return undefined
  return { ip: m[1]!, mask: Number(m[2]), router: m[3]!, hostname: m[4]!, domain: m[5]!, dns: m[6]!.trim() }
}

export async function ping(from: TestNs, to: string): Promise<boolean> {
  return (await from.try('busybox', ['ping', '-c', '1', '-W', '2', to])).exitCode === 0
}

/** A guest namespace whose eth0 is a veth enslaved to `bridge` in `host` (optionally with a fixed MAC). */
export async function guestOnBridge(t: Teardownable, host: TestNs, bridge: string, vethName: string, mac?: string): Promise<TestNs> {
  const guest = await makeNs(t, 'kvn')
  await host.ip(
    [
      `link add ${vethName} type veth peer name eth0 netns ${guest.name}${mac ? ` address ${mac}` : ''}`,
      `link set ${vethName} master ${bridge} up`,
    ].join('\n'),
  )
  await guest.ip('link set eth0 up')
  return guest
}

/** A host namespace with an uplink to an "internet" namespace (TEST-NET-3) that routes back to `subnet`. */
export async function hostWithInternet(t: Teardownable, subnet: string): Promise<{ host: TestNs; inet: TestNs }> {
  const host = await makeNs(t, 'kvn')
  const inet = await makeNs(t, 'kvn')
  await host.ip(
    [
      `link add uplink0 type veth peer name eth0 netns ${inet.name}`,
      'addr add 203.0.113.1/24 dev uplink0',
      'link set uplink0 up',
      'route add default via 203.0.113.2',
    ].join('\n'),
  )
  await inet.ip(['addr add 203.0.113.2/24 dev eth0', 'link set eth0 up', `route add ${subnet} via 203.0.113.1`].join('\n'))
  return { host, inet }
}

/**
 * A TCP server in `ns` on `port` that answers every connection with `reply` and the peer address; returns
 * once it listens. Spawned and not waited for, a tcpGet right after it could come first and be refused
 * (cni-libcni failed so once in CI).
 */
export function tcpServer(ns: TestNs, port: number, reply: string): void {
  ns.spawn('socat', [`TCP-LISTEN:${port},reuseaddr,fork`, `SYSTEM:echo ${reply} $SOCAT_PEERADDR`])
  const until = Date.now() + 5000
  while (!execFileSync('ip', ['netns', 'exec', ns.name, 'ss', '-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim()) {
    if (Date.now() > until) throw new Error(`socat did not listen on ${ns.name} port ${port} within 5 s`)
  }
}

/** Connect from `ns` to host:port; the server's reply line, or undefined. */
export async function tcpGet(ns: TestNs, host: string, port: number): Promise<string | undefined> {
  const r = await ns.try('socat', ['-T', '3', '-', `TCP:${host}:${port},connect-timeout=3`], { input: '', timeout: 8000 })
  return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : undefined
}
