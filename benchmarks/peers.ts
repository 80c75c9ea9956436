/**
 * The user's path against real peers, in one run: a NAT network with one port and one TCP forward set up and
 * torn down by kvmnet (the library's `Network.up`/`down`, and the `kvmnet up`/`down` processes) beside
 * netavark (Podman's network tool: `netavark setup/teardown` of a bridge network with one port mapping) and
 * the CNI reference plugins (bridge + host-local + portmap ADD/DEL driven directly from one shell, no
 * runtime); and N = 10/100/1000 ports through `Network.up` and through `kvmnet up` beside `ip -batch`.
 *
 * The peers come from Debian (`netavark`, `containernetworking-plugins`); the set-up installs them when they
 * are missing, and the rows are skipped with a line saying why when they cannot be installed.
 *
 * Every side runs in its own scratch namespace ("host") with the same work: a bridge with the gateway's
 * address, one guest-facing link (a tap for kvmnet, a veth into a container namespace for the peers, which
 * is what they make), masquerade and a DNAT for host port 8080. No DHCP/DNS on any side: netavark's
 * `dns_enabled: false`, CNI's host-local IPAM, kvmnet's `dns.enabled: false` without DHCP (no dnsmasq).
 */
import { execa } from 'execa'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork, Netns, Rtnl } from '../src/index.js'
import { median, type BenchRow } from './stats.js'

export const NETAVARK = '/usr/lib/podman/netavark'
export const CNI_PATH = '/usr/lib/cni'
// The program npm installs as `kvmnet` (package.json's bin).
const cli = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url))
// KVMNET_BENCH_NS_PREFIX replaces the scratch namespaces' leading `kvb` (a helper sharing the host names its own), as in cni.ts.
const nsPrefix = process.env.KVMNET_BENCH_NS_PREFIX ?? 'kvb'

/**
 * Removes the programs' V8 code caches (dist/cli-bundle.cjs.<command>.v8-cache, dist/cni-bundle.cjs.<command>.v8-cache)
 * so that the first run here writes them, as the first run after an install does. A command's cache holds what the
 * run that wrote it compiled: one left by a test or another helper's run of another kind of network made each
 * `kvmnet up` here compile more and load code it does not run (~4 ms of CPU per process measured, 31 interleaved
 * runs at load ~13), a figure of whatever ran before, not of the benchmark.
 */
export async function freshCommandCaches(): Promise<void> {
  const dist = fileURLToPath(new URL('../dist/', import.meta.url))
  for (const f of await readdir(dist)) if (/^(cli|cni)-bundle\.cjs\..+\.v8-cache$/.test(f)) await rm(join(dist, f), { force: true })
}

/** Installs the peers from Debian when they are missing; returns why not when that fails. */
export async function ensurePeers(): Promise<string | undefined> {
  if (existsSync(NETAVARK) && existsSync(join(CNI_PATH, 'portmap'))) return undefined
  process.stderr.write('bench: installing netavark and containernetworking-plugins from Debian...\n')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  try {
    await execa('apt-get', ['update', '-qq'], { env })
    await execa('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'netavark', 'containernetworking-plugins', 'iptables'], { env })
  } catch (e) {
    return `apt-get install netavark containernetworking-plugins failed: ${(e as Error).message.split('\n')[0]}`
  }
  return existsSync(NETAVARK) && existsSync(join(CNI_PATH, 'portmap')) ? undefined : 'netavark or the CNI plugins are not where Debian puts them'
}

const natOnePort = (name: string) => ({
  name,
  mode: 'nat' as const,
  ipv4: { address: '10.252.0.1/24' },
  dns: { enabled: false },
  ports: [{ name: 'kvp0' }],
  forwards: [{ proto: 'tcp' as const, hostPort: 8080, guest: '10.252.0.2', guestPort: 80 }],
})

/**
 * netavark's options for one container on the bridge network `bench` (nvbr0, no DNS, host-local IPAM):
 * its id, address and one TCP port mapping. Shared with the CNI benchmark, which runs several containers.
 */
export function netavarkOptions(o: { id: string; name: string; ip: string; subnet: string; gateway: string; hostPort: number }): string {
  return JSON.stringify({
    container_id: o.id,
    container_name: o.name,
    port_mappings: [{ host_ip: '', container_port: 80, host_port: o.hostPort, range: 1, protocol: 'tcp' }],
    networks: { bench: { interface_name: 'eth0', static_ips: [o.ip] } },
    network_info: {
      bench: {
        name: 'bench',
        id: 'fedcba9876543210'.repeat(4),
        driver: 'bridge',
        network_interface: 'nvbr0',
        subnets: [{ subnet: o.subnet, gateway: o.gateway }],
        ipv6_enabled: false,
        internal: false,
        dns_enabled: false,
        ipam_options: { driver: 'host-local' },
      },
    },
  })
}

/** The CNI chain as a runtime would run it: bridge ADD, then portmap ADD with bridge's result as prevResult. */
function cniScripts(dir: string, host: Netns, ctr: Netns): { add: string; del: string } {
  const conf = (extra: string) =>
    `{"cniVersion":"1.0.0","name":"bench","type":"bridge","bridge":"cnibr0","isGateway":true,"ipMasq":true,` +
    `"ipam":{"type":"host-local","ranges":[[{"subnet":"10.252.0.0/24","gateway":"10.252.0.1"}]],"dataDir":"${dir}/ipam"}${extra}}`
  const pm = (prev: string) =>
    `{"cniVersion":"1.0.0","name":"bench","type":"portmap","capabilities":{"portMappings":true},` +
    `"runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}${prev}}`
  const env = `export CNI_PATH=${CNI_PATH} CNI_CONTAINERID=bench CNI_NETNS=${ctr.path} CNI_IFNAME=eth0`
  const enter = `nsenter --net=${host.path}`
  const add = `set -e; ${env} CNI_COMMAND=ADD
res=$(${enter} ${CNI_PATH}/bridge <<'EOF'
${conf('')}
EOF
)
${enter} ${CNI_PATH}/portmap >/dev/null <<EOF
${pm(',"prevResult":$res')}
EOF
`
  const del = `set -e; ${env} CNI_COMMAND=DEL
${enter} ${CNI_PATH}/portmap <<'EOF'
${pm('')}
EOF
${enter} ${CNI_PATH}/bridge <<'EOF'
${conf('')}
EOF
`
  return { add, del }
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await f()
  return performance.now() - t0
}

function ratioRow(name: string, k: number[], b: number[], baseline: string, goal?: string, n?: number): BenchRow {
  const km = median(k)
  const bm = median(b)
  return { name, n, kvmnetMs: km, baselineMs: bm, baseline, ratio: km / bm, ...(goal ? { goal } : {}) }
}

/** One-port NAT network with a forward: kvmnet (library and CLI) vs netavark and the CNI plugins. */
async function natOnePortRows(runs: number, dir: string): Promise<BenchRow[]> {
  const why = await ensurePeers()
  if (why) {
    process.stderr.write(`bench: peer rows skipped: ${why}\n`)
    return []
  }
  const kHost = await Netns.create({ prefix: `${nsPrefix}pk` })
  const nHost = await Netns.create({ prefix: `${nsPrefix}pn` })
  const cHost = await Netns.create({ prefix: `${nsPrefix}pc` })
  const ctr = await Netns.create({ prefix: `${nsPrefix}px` })
  const stateRoot = join(dir, 'state')
  const specFile = join(dir, 'nat1.json')
  await writeFile(specFile, JSON.stringify(natOnePort('cli1')))
  const nvOpts = join(dir, 'netavark.json')
  await writeFile(nvOpts, netavarkOptions({ id: '0123456789abcdef'.repeat(4), name: 'bench', ip: '10.252.0.2', subnet: '10.252.0.0/24', gateway: '10.252.0.1', hostPort: 8080 }))
  const cni = cniScripts(dir, cHost, ctr)
  const s = { lib: [] as number[], libDown: [] as number[], cliUp: [] as number[], cliDown: [] as number[], cliUpNoCache: [] as number[], kernelDown: [] as number[] }
  // The kernel's part of that teardown alone, its floor: the same links (a bridge with an address and a tap
  // on it, made untimed by \`ip\`) deleted by the one RTM_DELLINK of their group Network.down sends, settled
  // the same way (the links unlisted). A bridge's unregistering waits in the kernel for an RCU barrier
  // (its multicast state's); a tap alone is ~1 ms.
  const floorBatch = join(dir, 'kernel-floor.batch')
  await writeFile(floorBatch, ['link add kvbrf group 99 type bridge', 'tuntap add kvtf mode tap', 'link set kvtf group 99 master kvbrf up', 'addr add 10.252.9.1/24 dev kvbrf', 'link set kvbrf up', ''].join('\n'))
  const rtnl = Rtnl.open(kHost)
  const p = { nvUp: [] as number[], nvDown: [] as number[], cniUp: [] as number[], cniDown: [] as number[] }
  const cliArgs = ['--netns', kHost.path, '--state-root', stateRoot]
  try {
    // The command's code cache made by this benchmark's own network (see freshCommandCaches), untimed.
    await freshCommandCaches()
    await execa('node', [cli, 'up', specFile, ...cliArgs])
    await execa('node', [cli, 'down', 'cli1', ...cliArgs])
    for (let i = 0; i < runs; i++) {
      const net = createNetwork(natOnePort('lib1'), { netns: kHost, stateRoot })
      s.lib.push(await timed(() => net.up()))
      s.libDown.push(await timed(() => net.down()))
      await execa('ip', ['-n', kHost.name!, '-batch', floorBatch])
      const members = (await rtnl.listLinks({ group: 99 })).map((l) => l.index)
      s.kernelDown.push(await timed(() => rtnl.deleteGroup(99, { members })))
      s.cliUp.push(await timed(() => execa('node', [cli, 'up', specFile, ...cliArgs])))
      s.cliDown.push(await timed(() => execa('node', [cli, 'down', 'cli1', ...cliArgs])))
      // What a command costs before its V8 code cache exists (the first run after an install or upgrade).
      s.cliUpNoCache.push(await timed(() => execa('node', [cli, 'up', specFile, ...cliArgs], { env: { KVMNET_COMPILE_CACHE: '0' } })))
      await execa('node', [cli, 'down', 'cli1', ...cliArgs])
      const nv = ['nsenter', `--net=${nHost.path}`, NETAVARK, '--config', join(dir, 'aardvark'), '-f', nvOpts]
      p.nvUp.push(await timed(() => execa(nv[0]!, [...nv.slice(1), 'setup', ctr.path])))
      p.nvDown.push(await timed(() => execa(nv[0]!, [...nv.slice(1), 'teardown', ctr.path])))
      p.cniUp.push(await timed(() => execa('bash', ['-c', cni.add])))
      p.cniDown.push(await timed(() => execa('bash', ['-c', cni.del])))
      // CNI's bridge plugin leaves its bridge on DEL (by design); a runtime would too, but each ADD here must
      // do the full work, like the other sides.
      await execa('ip', ['-n', cHost.name!, 'link', 'del', 'cnibr0'])
    }
  } finally {
    rtnl.close()
    for (const ns of [kHost, nHost, cHost, ctr]) await ns.delete().catch(() => undefined)
  }
  const nv = 'netavark 1.4 setup (bridge, 1 port mapping)'
  const nvd = 'netavark 1.4 teardown'
  const cn = 'CNI bridge + host-local + portmap ADD (shell)'
  const cnd = 'CNI portmap + bridge DEL (shell)'
  return [
    ratioRow('NAT + 1 port + 1 forward: setup, library', s.lib, p.nvUp, nv, '<= 0.15x'),
    ratioRow('NAT + 1 port + 1 forward: setup, library', s.lib, p.cniUp, cn),
    ratioRow('NAT + 1 port + 1 forward: setup, `kvmnet up`', s.cliUp, p.nvUp, nv, '<= 1.2x'),
    ratioRow('NAT + 1 port + 1 forward: setup, `kvmnet up`', s.cliUp, p.cniUp, cn),
    ratioRow('NAT + 1 port + 1 forward: setup, `kvmnet up` without its code cache', s.cliUpNoCache, p.nvUp, nv),
    ratioRow('NAT + 1 port + 1 forward: teardown, library', s.libDown, p.nvDown, nvd, '<= 0.15x'),
    ratioRow('NAT + 1 port + 1 forward: teardown, library', s.libDown, p.cniDown, cnd),
    ratioRow('NAT + 1 port + 1 forward: teardown, its links\' deletion in the kernel alone (the floor of the row above)', s.kernelDown, p.nvDown, nvd),
    ratioRow('NAT + 1 port + 1 forward: teardown, `kvmnet down`', s.cliDown, p.nvDown, nvd, '<= 0.8x'),
    ratioRow('NAT + 1 port + 1 forward: teardown, `kvmnet down`', s.cliDown, p.cniDown, cnd),
  ]
}

/** The same N taps on a bridge as one `ip -batch` (a person's fastest shell): the baseline of the port rows. */
async function ipBatch(ns: Netns, dir: string, n: number): Promise<{ up: number; down: number }> {
  const lines = ['link add kvbr-ipb type bridge stp_state 0 forward_delay 0', 'link set kvbr-ipb up']
  for (let i = 0; i < n; i++) lines.push(`tuntap add dev ipb${i} mode tap vnet_hdr`, `link set ipb${i} group 77 master kvbr-ipb up`)
  await writeFile(join(dir, `ipb${n}.batch`), `${lines.join('\n')}\n`)
  await writeFile(join(dir, 'ipb-down.batch'), 'link del group 77\nlink del kvbr-ipb\n')
  const up = await timed(() => execa('ip', ['-n', ns.name!, '-batch', join(dir, `ipb${n}.batch`)]))
  const down = await timed(() => execa('ip', ['-n', ns.name!, '-batch', join(dir, 'ipb-down.batch')]))
  return { up, down }
}

const portsSpec = (name: string, n: number) => ({
  name,
  mode: 'very-isolated' as const,
  bridge: `kvbr-${name}`,
  ports: Array.from({ length: n }, (_, i) => ({ name: `${name}p${i}` })),
})

/**
 * A pause before each timed `up` of many ports, for the kernel to finish what the step before it left
 * running (a teardown's device frees): whichever side came next paid for it.
 */
const quiet = (n: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, n >= 100 ? 300 : 0))

/** N ports: `Network.up` in-process and `kvmnet up` as a process, each beside `ip -batch` in the same loop. */
async function portRows(quick: boolean, dir: string): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  const ns = await Netns.create({ prefix: `${nsPrefix}pp` })
  const stateRoot = join(dir, 'pstate')
  try {
    for (const n of quick ? [10, 100] : [10, 100, 1000]) {
      const runs = n >= 1000 ? (quick ? 3 : 5) : quick ? 5 : 9
      const lib: number[] = []
      const libDown: number[] = []
      const up: number[] = []
      const down: number[] = []
      const batch: number[] = []
      const batchDown: number[] = []
      const specFile = join(dir, `ports${n}.json`)
      await writeFile(specFile, JSON.stringify(portsSpec('pc', n)))
      const cliArgs = ['--netns', ns.path, '--state-root', stateRoot]
      for (let i = 0; i < runs; i++) {
        const net = createNetwork(portsSpec('pl', n), { netns: ns, stateRoot })
        await quiet(n)
        lib.push(await timed(() => net.up()))
        libDown.push(await timed(() => net.down()))
        // Network.down settles once the kernel has unlisted the links, before it has freed them (an RCU
        // barrier, then each device, ~0.2 s for 1000 taps on a pool thread): not on the next side's clock.
        await quiet(n)
        const ipb = await ipBatch(ns, dir, n)
        batch.push(ipb.up)
        batchDown.push(ipb.down)
        await quiet(n)
        up.push(await timed(() => execa('node', [cli, 'up', specFile, ...cliArgs])))
        down.push(await timed(() => execa('node', [cli, 'down', 'pc', ...cliArgs])))
      }
      const b = 'ip -batch (bridge + N taps: add, master, up)'
      rows.push(ratioRow(`${n} ports: Network.up`, lib, batch, b, n === 1000 ? '<= 1.0x' : undefined, n))
      rows.push(ratioRow(`${n} ports: \`kvmnet up\` (process)`, up, batch, b, n === 1000 ? '<= 1.5x' : undefined, n))
      const bd = 'ip -batch (link del group + bridge)'
      rows.push(ratioRow(`${n} ports: Network.down`, libDown, batchDown, bd, undefined, n))
      rows.push(ratioRow(`${n} ports: \`kvmnet down\` (process)`, down, batchDown, bd, undefined, n))
    }
  } finally {
    await ns.delete().catch(() => undefined)
  }
  return rows
}

export async function runPeersBench(opts: { quick: boolean }): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'kvmnet-bench-peers-'))
  try {
    return [...(await natOnePortRows(opts.quick ? 3 : 7, dir)), ...(await portRows(opts.quick, dir))]
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
