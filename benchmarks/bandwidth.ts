/**
 * The cost of bandwidth limits: `up` of a 100-port network with a limit on every port (an HTB on each
 * tap, an IFB with its own HTB and the tap's ingress redirect) against the same network without limits,
 * and with the ports' outbound limits replaced by the network's outbound cap (one IFB for all), interleaved
 * in one scratch namespace that is removed at the end; beside them, the same objects made by `ip -batch` and
 * `tc -batch`, against the plain network made the same way: the part of the ratio that is the kernel's.
 */
import { execa } from 'execa'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNetwork, Netns } from '../src/index.js'
import { validateSpec } from '../src/network/validate.js'
import { median, type BenchRow } from './stats.js'

type Limits = 'none' | 'per-port' | 'network-outbound'

/**
 * per-port: inbound and outbound on every port (an IFB per port); network-outbound: inbound on every port
 * and the network's outbound cap instead of the ports' (one IFB for the network, a class per port).
 */
function spec(name: string, ports: number, limits: Limits) {
  return validateSpec({
    name,
    mode: 'open',
    ipv4: { address: '192.0.2.1/24' },
    ...(limits === 'network-outbound' ? { bandwidth: { outbound: { average: 100 * 1024 } } } : {}),
    ports: Array.from({ length: ports }, (_, i) => ({
      name: `${name}-${i}`,
      ...(limits === 'per-port' ? { bandwidth: { inbound: { average: 1024, peak: 2048, burst: 64 }, outbound: { average: 512 } } } : {}),
      ...(limits === 'network-outbound' ? { bandwidth: { inbound: { average: 1024, peak: 2048, burst: 64 } } } : {}),
    })),
  })
}

async function upMs(ns: Netns, stateRoot: string, name: string, ports: number, limits: Limits): Promise<number> {
  const net = createNetwork(spec(name, ports, limits), { netns: ns, stateRoot })
  const start = performance.now()
  await net.up()
  const ms = performance.now() - start
  await net.down()
  return ms
}

/**
 * The same devices and tc objects made by iproute2 in batch mode (one process each for links, tc, raising):
 * the kernel's own share, and how much more of it a limit on every port asks for than the plain network
 * (an IFB per port, six tc objects, the taps raised after their qdiscs). Returns ms; removes what it made.
 */
async function shellUpMs(ns: Netns, dir: string, ports: number, limited: boolean): Promise<number> {
  const links = ['link add kvbr-sh group 77 type bridge stp_state 0 forward_delay 0', 'link set kvbr-sh up']
  const tc: string[] = []
  const up: string[] = []
  for (let i = 0; i < ports; i++) {
    links.push(`tuntap add dev sht${i} mode tap vnet_hdr`, `link set sht${i} group 77 master kvbr-sh${limited ? '' : ' up'}`)
    if (!limited) continue
    links.push(`link add shi${i} group 77 txqueuelen 1000 type ifb`)
    tc.push(
      `qdisc replace dev sht${i} root handle 4b51: htb default 1`,
      `class replace dev sht${i} parent 4b51: classid 4b51:1 htb rate 1048576bps ceil 2097152bps burst 65536 cburst 65536`,
      `qdisc replace dev sht${i} ingress`,
      `filter add dev sht${i} parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev shi${i}`,
      `qdisc replace dev shi${i} root handle 4b51: htb default 1`,
      `class replace dev shi${i} parent 4b51: classid 4b51:1 htb rate 524288bps`,
    )
    up.push(`link set sht${i} up`, `link set shi${i} up`)
  }
  const files = { links: join(dir, 'sh-links'), tc: join(dir, 'sh-tc'), up: join(dir, 'sh-up') }
  await writeFile(files.links, `${links.join('\n')}\n`)
  await writeFile(files.tc, `${tc.join('\n')}\n`)
  await writeFile(files.up, `${up.join('\n')}\n`)
  // The plain network runs the same three processes (two with nothing to do), so only the work differs.
  const script = `ip -n ${ns.name!} -batch ${files.links} && tc -n ${ns.name!} -batch ${files.tc} && ip -n ${ns.name!} -batch ${files.up}`
  const start = performance.now()
  await execa('bash', ['-c', script])
  const ms = performance.now() - start
  await execa('ip', ['-n', ns.name!, 'link', 'del', 'group', '77'])
  return ms
}

export async function runBandwidthBench(opts: { quick: boolean }): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'kvmnet-bench-'))
  const ns = await Netns.create({ prefix: 'kbbench' })
  const ports = 100
  try {
    const runs = opts.quick ? 3 : 9
    const limited: number[] = []
    const shared: number[] = []
    const plain: number[] = []
    const kinds: [Limits, number[], string][] = [
      ['none', plain, 'kbp'],
      ['per-port', limited, 'kbl'],
      ['network-outbound', shared, 'kbs'],
    ]
    // The order rotates: whichever runs right after a down pays for the kernel's cleanup of its links.
    for (let i = 0; i < runs; i++) {
      for (let j = 0; j < kinds.length; j++) {
        const [limits, into, prefix] = kinds[(i + j) % kinds.length]!
        into.push(await upMs(ns, join(dir, 'state'), `${prefix}${i}`, ports, limits))
      }
    }
    // The kernel's share: iproute2 making the same objects, interleaved the same way.
    const shLimited: number[] = []
    const shPlain: number[] = []
    for (let i = 0; i < runs; i++) {
      for (const limitedToo of i % 2 === 0 ? [false, true] : [true, false]) (limitedToo ? shLimited : shPlain).push(await shellUpMs(ns, dir, ports, limitedToo))
    }
    const k = median(limited)
    const n = median(shared)
    const b = median(plain)
    return [
      { name: `up of a ${ports}-port network, a limit on every port`, n: ports, kvmnetMs: k, baselineMs: b, baseline: 'the same network without limits', ratio: k / b, goal: '<= 2.0x' },
      {
        name: `  the same ${ports} ports' objects made by ip + tc -batch (the kernel's share of that ratio)`,
        n: ports,
        kvmnetMs: median(shLimited),
        baselineMs: median(shPlain),
        baseline: 'ip -batch of the network without limits',
        ratio: median(shLimited) / median(shPlain),
      },
      {
        name: `up of a ${ports}-port network, inbound limits, network outbound cap`,
        n: ports,
        kvmnetMs: n,
        baselineMs: b,
        baseline: 'the same network without limits',
        ratio: n / b,
        goal: '<= 2.0x',
      },
    ]
  } finally {
    await ns.delete()
    await rm(dir, { recursive: true, force: true })
  }
}
