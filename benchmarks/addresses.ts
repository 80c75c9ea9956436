/**
 * The cost of `addresses()` on a 1000-port network whose learning sets hold an IPv4 and an IPv6 address
 * for every port (filled by hand: 1000 booted guests are not the thing measured), against reading the same
 * sets with the nft program (`nft -j list set` of both), and against what the kernel offers without
 * learning (`ip -j neigh show` + `bridge -j fdb show` of the same namespace, with a neighbour entry per
 * guest). One scratch namespace, removed at the end.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { createNetwork, Netns, learnTableName } from '../src/index.js'
import { validateSpec } from '../src/network/validate.js'
import { median, type BenchRow } from './stats.js'

const mac = (i: number): string => `52:54:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`


async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

export async function runAddressesBench(opts: { quick: boolean }): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'kvmnet-bench-'))
  const ns = await Netns.create({ prefix: 'kabench' })
  const ports = 1000
  const name = 'kab'
  const net = createNetwork(
    validateSpec({ name, mode: 'isolated', ipv4: { address: '10.40.0.1/16' }, ports: Array.from({ length: ports }, (_, i) => ({ name: `kab-${i}`, mac: mac(i), vnetHdr: false })) }),
    { netns: ns, stateRoot: join(dir, 'state') },
  )
  try {
    await net.up()
    const table = learnTableName(name)
    const idx = Array.from({ length: ports }, (_, i) => i)
    const fill = [
      `add element bridge ${table} v4 { ${idx.map((i) => `"kab-${i}" . ${mac(i)} . 10.40.${(i >> 8) + 1}.${i & 0xff}`).join(', ')} }`,
      `add element bridge ${table} v6 { ${idx.map((i) => `"kab-${i}" . ${mac(i)} . fd00:40::${(i + 2).toString(16)}`).join(', ')} }`,
    ].join('\n')
    await writeFile(join(dir, 'fill.nft'), fill)
    const inNs = (cmd: string, args: string[], input?: string) => execa('nsenter', [`--net=${ns.path}`, '--', cmd, ...args], input === undefined ? {} : { input })
    await inNs('nft', ['-f', join(dir, 'fill.nft')])
    const neigh = idx.map((i) => `neigh add 10.40.${(i >> 8) + 1}.${i & 0xff} lladdr ${mac(i)} dev ${net.bridge} nud reachable`).join('\n')
    await inNs('ip', ['-batch', '-'], neigh)
    const got = await net.addresses()
    if (got.length !== 2 * ports) throw new Error(`addresses() listed ${got.length}, expected ${2 * ports}`)

    const runs = opts.quick ? 5 : 15
    const k: number[] = []
    const sets: number[] = []
    const kernel: number[] = []
    for (let i = 0; i < runs; i++) {
      k.push(await timed(() => net.addresses()))
      sets.push(await timed(() => Promise.all(['v4', 'v6'].map((s) => inNs('nft', ['-j', 'list', 'set', 'bridge', table, s])))))
      kernel.push(await timed(() => Promise.all([inNs('ip', ['-j', 'neigh', 'show']), inNs('bridge', ['-j', 'fdb', 'show'])])))
    }
    const km = median(k)
    return [
      { name: `addresses() of a ${ports}-port network (${2 * ports} learned)`, n: ports, kvmnetMs: km, baselineMs: median(sets), baseline: '`nft -j list set` of both sets (nft program)', ratio: km / median(sets), goal: '<= 1.0x' },
      { name: `addresses() of a ${ports}-port network (${2 * ports} learned)`, n: ports, kvmnetMs: km, baselineMs: median(kernel), baseline: '`ip -j neigh show` + `bridge -j fdb show` (knows less)', ratio: km / median(kernel), goal: '<= 2.0x' },
    ]
  } finally {
    await net.down().catch((err: unknown) => process.stderr.write(`bench: addresses: down failed: ${(err as Error).message}\n`))
    await ns.delete()
    await rm(dir, { recursive: true, force: true })
  }
}
