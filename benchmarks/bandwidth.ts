/**
 * The cost of bandwidth limits: `up` of a 100-port network with a limit on every port (an HTB on each
 * tap, an IFB with its own HTB and the tap's ingress redirect) against the same network without limits,
 * and with the ports' outbound limits replaced by the network's outbound cap (one IFB for all), interleaved
 * in one scratch namespace that is removed at the end.
 */
import { mkdtemp, rm } from 'node:fs/promises'
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
    const k = median(limited)
    const n = median(shared)
    const b = median(plain)
    return [
      { name: `up of a ${ports}-port network, a limit on every port`, n: ports, kvmnetMs: k, baselineMs: b, baseline: 'the same network without limits', ratio: k / b, goal: '<= 2.0x' },
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
