/**
 * The cost of bandwidth limits: `up` of a 100-port network with a limit on every port (an HTB on each
 * tap, an IFB with its own HTB and the tap's ingress redirect) against the same network without limits,
 * interleaved in one scratch namespace that is removed at the end.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNetwork, Netns } from '../src/index.js'
import { validateSpec } from '../src/network/validate.js'
import { median, type BenchRow } from './stats.js'

function spec(name: string, ports: number, limited: boolean) {
  return validateSpec({
    name,
    mode: 'open',
    ipv4: { address: '192.0.2.1/24' },
    ports: Array.from({ length: ports }, (_, i) => ({
      name: `${name}-${i}`,
      ...(limited ? { bandwidth: { inbound: { average: 1024, peak: 2048, burst: 64 }, outbound: { average: 512 } } } : {}),
    })),
  })
}

async function upMs(ns: Netns, stateRoot: string, name: string, ports: number, limited: boolean): Promise<number> {
  const net = createNetwork(spec(name, ports, limited), { netns: ns, stateRoot })
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
    const runs = opts.quick ? 3 : 7
    const limited: number[] = []
    const plain: number[] = []
    for (let i = 0; i < runs; i++) {
      plain.push(await upMs(ns, join(dir, 'state'), `kqp${i}`, ports, false))
      limited.push(await upMs(ns, join(dir, 'state'), `kql${i}`, ports, true))
    }
    const k = median(limited)
    const b = median(plain)
    return [{ name: `up of a ${ports}-port network, a limit on every port`, n: ports, kvmnetMs: k, baselineMs: b, baseline: 'the same network without limits', ratio: k / b, goal: '<= 2.0x' }]
  } finally {
    await ns.delete()
    await rm(dir, { recursive: true, force: true })
  }
}
