/**
 * Network-level benchmarks: a NAT network up to ready vs the equivalent shell (ip -batch + nft -f +
 * dnsmasq spawn-and-poll), status of a 1000-port network, and resident memory after 100 networks and
 * 1000 ports. Everything runs in scratch namespaces that are removed at the end.
 */
import { execa } from 'execa'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork, Netns } from '../src/index.js'
import { Nft } from '../src/nft/index.js'
import { planFor } from '../src/network/kinds/index.js'
import { validateSpec } from '../src/network/validate.js'
import { median, type BenchRow } from './stats.js'

const natSpec = (name: string) => ({
  name,
  mode: 'nat' as const,
  ipv4: { address: '10.250.0.1/24', dhcp: { range: ['10.250.0.100', '10.250.0.200'] as [string, string] } },
  dns: { domain: 'bench.test' },
  forwards: [{ proto: 'tcp' as const, hostPort: 8080, guest: '10.250.0.10', guestPort: 80 }],
})

/**
 * The same rules as plain nft text: kvmnet's JSON applied once in the namespace and listed back by nft
 * itself, so the shell baseline loads exactly the equivalent ruleset.
 */
async function equivalentNftText(ns: Netns, dir: string): Promise<void> {
  const plan = planFor(validateSpec(natSpec('shell')))
  if (!('firewall' in plan)) throw new Error('a nat plan has rules')
  const nft = new Nft(ns)
  await nft.apply(plan.firewall)
  const text = (await execa('nsenter', [`--net=${ns.path}`, 'nft', 'list', 'table', 'inet', 'kvmnet_shell'])).stdout
  await nft.remove('shell')
  await writeFile(join(dir, 'rules.nft'), `${text}\n`)
}

/** The shell a person would write for the same NAT network, timed as one script from spawn to ready. */
async function shellNatUp(ns: Netns, dir: string): Promise<number> {
  const script = `
set -e
ip -n ${ns.name!} -batch - <<EOF
link add kvbr-shell type bridge stp_state 0 forward_delay 0
addr add 10.250.0.1/24 dev kvbr-shell
link set kvbr-shell up
EOF
ip netns exec ${ns.name!} sysctl -qw net.ipv4.ip_forward=1
nsenter --net=${ns.path} nft -f ${dir}/rules.nft
nsenter --net=${ns.path} dnsmasq --keep-in-foreground --conf-file=/dev/null --bind-dynamic --interface=kvbr-shell \\
  --except-interface=lo --listen-address=10.250.0.1 --no-resolv --no-hosts --domain=bench.test --local=/bench.test/ \\
  --dhcp-range=10.250.0.100,10.250.0.200,1h --dhcp-authoritative --no-ping --dhcp-rapid-commit \\
  --dhcp-leasefile=${dir}/leases --pid-file=${dir}/pid &
echo $! > ${dir}/dnsmasq.pid
until ip netns exec ${ns.name!} ss -Hlnu 'sport = :67' | grep -q . && ip netns exec ${ns.name!} ss -Hlnt 'sport = :53' | grep -q .; do sleep 0.001; done
`
  const start = performance.now()
  await execa('bash', ['-c', script])
  const ms = performance.now() - start
  const pid = Number((await execa('cat', [join(dir, 'dnsmasq.pid')])).stdout)
  process.kill(pid, 'SIGTERM')
  await execa('bash', ['-c', `while kill -0 ${pid} 2>/dev/null; do sleep 0.01; done`])
  await execa('ip', ['-n', ns.name!, 'link', 'del', 'kvbr-shell'])
  await execa('nsenter', [`--net=${ns.path}`, 'nft', 'delete', 'table', 'inet', 'kvmnet_shell'])
  return ms
}

async function kvmnetNatUp(ns: Netns, i: number, stateRoot: string): Promise<number> {
  const net = createNetwork(natSpec(`bench${i}`), { netns: ns, stateRoot })
  const start = performance.now()
  await net.up()
  const ms = performance.now() - start
  await net.down()
  return ms
}

export async function runNetworkBench(opts: { quick: boolean }): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  const dir = await mkdtemp(join(tmpdir(), 'kvmnet-bench-'))
  const stateRoot = join(dir, 'state')
  const ns = await Netns.create({ prefix: 'kvbench' })
  try {
    // c. NAT network up to ready, interleaved so drift affects both sides alike.
    await equivalentNftText(ns, dir)
    const runs = opts.quick ? 5 : 20
    const k: number[] = []
    const s: number[] = []
    for (let i = 0; i < runs; i++) {
      k.push(await kvmnetNatUp(ns, i, stateRoot))
      s.push(await shellNatUp(ns, dir))
    }
    const km = median(k)
    const sm = median(s)
    rows.push({ name: 'NAT network up to ready', kvmnetMs: km, baselineMs: sm, baseline: 'ip -batch + nft -f + dnsmasq spawn/poll', ratio: km / sm, goal: '<= 1.0x' })

    // f. status of a 1000-port network.
    const nPorts = opts.quick ? 200 : 1000
    const ports = Array.from({ length: nPorts }, (_, i) => ({ name: `st${i}` }))
    const big = createNetwork({ name: 'status', mode: 'isolated', ipv4: { address: '10.251.0.1/24' }, ports }, { netns: ns, stateRoot })
    await big.up()
    const st: number[] = []
    for (let i = 0; i < (opts.quick ? 5 : 15); i++) {
      const t0 = performance.now()
      const status = await big.status()
      st.push(performance.now() - t0)
      if (status.ports.length !== nPorts) throw new Error(`status saw ${status.ports.length} ports, expected ${nPorts}`)
    }
    const ipShow: number[] = []
    for (let i = 0; i < (opts.quick ? 3 : 5); i++) {
      const t0 = performance.now()
      await execa('ip', ['-n', ns.name!, '-d', 'link', 'show', 'master', 'kvbr-status'])
      ipShow.push(performance.now() - t0)
    }
    await big.down()
    rows.push({ name: `status of a ${nPorts}-port network`, n: nPorts, kvmnetMs: median(st), baselineMs: median(ipShow), baseline: 'ip -d link show master BR', ratio: median(st) / median(ipShow), goal: '<= 0.7x' })
  } finally {
    await ns.delete()
    await rm(dir, { recursive: true, force: true })
  }

  // g. resident memory after 100 networks and 1000 ports, in a fresh process so nothing else counts; once
  // with Node's defaults and once with the young generation capped, which shows how much of the growth is
  // V8 sizing its semi-spaces up under allocation bursts rather than memory kvmnet holds. The default run
  // also breaks the figure down and waits for V8's memory reducer (the RSS of a process keeping them up).
  const script = fileURLToPath(new URL('./memory.mjs', import.meta.url))
  interface MemFigures { rssMB: number; heapTotalMB: number; heapUsedMB: number; youngMB: number }
  for (const flags of [[], ['--max-semi-space-size=1']]) {
    const args = ['--expose-gc', ...flags, script, opts.quick ? '20' : '100', opts.quick ? '200' : '1000', ...(flags.length ? [] : ['settle'])]
    const r = await execa('node', args)
    const mem = JSON.parse(r.stdout.trim().split('\n').pop()!) as MemFigures & { baselineMB: number; before: MemFigures; trimmed?: MemFigures; settled?: MemFigures & { idleS: number }; networks: number; ports: number }
    const what = `${mem.networks} networks, ${mem.ports} ports`
    const row = (name: string, value: number, base: number, baseline: string, goal?: string): void => {
      rows.push({ name, kvmnetMs: value, baselineMs: base, baseline, ratio: value / base, unit: 'MB', ...(goal ? { goal } : {}) })
    }
    row(`RSS after ${what}${flags.length ? ` (node ${flags.join(' ')})` : ''}`, mem.rssMB, mem.baselineMB, 'RSS of the same process before (node + kvmnet loaded)', '<= 80 MB')
    if (flags.length) continue
    const before = 'the same, in the same process before'
    row(`  of it, V8's heap (committed; ${mem.heapUsedMB.toFixed(1)} MB live after a full GC)`, mem.heapTotalMB, mem.before.heapTotalMB, before)
    row(`  of that, V8's young generation (sized by V8 to what survived its scavenges)`, mem.youngMB, mem.before.youngMB, before)
    row(`  the rest (malloc, the node binary's pages, stacks)`, mem.rssMB - mem.heapTotalMB, mem.before.rssMB - mem.before.heapTotalMB, before)
    if (mem.trimmed) {
      row(`RSS after ${what}, idle 3 s (kvmnet's idle malloc_trim has run; V8's memory reducer not yet)`, mem.trimmed.rssMB, mem.baselineMB, 'RSS of the same process before (node + kvmnet loaded)')
    }
    if (mem.settled) {
      row(`RSS after ${what}, idle ${mem.settled.idleS.toFixed(0)} s (V8's memory reducer has run; young generation ${mem.settled.youngMB.toFixed(0)} MB)`, mem.settled.rssMB, mem.baselineMB, 'RSS of the same process before (node + kvmnet loaded)')
    }
  }
  return rows
}
