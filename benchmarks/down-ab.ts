/**
 * A/B of `Network.down` for the peers group's row "NAT + 1 port + 1 forward: teardown, library", between
 * builds of several trees in ONE process and one run, each round interleaved with netavark 1.4's teardown
 * of its one-container bridge network (the row's baseline):
 *   node --import tsx benchmarks/down-ab.ts [runs] <tree> [<tree> ...]
 * Each tree needs its dist/ and prebuilds/ built. Prints per tree the median down, its ratio to netavark's
 * median teardown, and the longest event-loop stall seen during its downs (monitorEventLoopDelay).
 */
import { execa } from 'execa'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { NETAVARK, ensurePeers, netavarkOptions } from './peers.js'
import { median } from './stats.js'

interface Kvmnet {
  createNetwork(spec: unknown, opts: unknown): { up(): Promise<unknown>; down(): Promise<unknown> }
  Netns: { create(o: { prefix: string }): Promise<{ path: string; name?: string; delete(): Promise<void> }> }
}

const args = process.argv.slice(2)
const runs = /^\d+$/.test(args[0] ?? '') ? Number(args.shift()) : 15
const trees = args.map((a) => resolve(a))
const spec = {
  name: 'ab1',
  mode: 'nat',
  ipv4: { address: '10.252.0.1/24' },
  dns: { enabled: false },
  ports: [{ name: 'kvp0' }],
  forwards: [{ proto: 'tcp', hostPort: 8080, guest: '10.252.0.2', guestPort: 80 }],
}

const dir = await mkdtemp(join(tmpdir(), 'kvmnet-k10dab-'))
const sides = await Promise.all(
  trees.map(async (tree) => {
    const lib = (await import(pathToFileURL(join(tree, 'dist/index.js')).href)) as Kvmnet
    return { tree, lib, ns: await lib.Netns.create({ prefix: 'k10dab' }), downs: [] as number[], stall: 0 }
  }),
)
const why = await ensurePeers()
const peer = why ? undefined : { host: await sides[0]!.lib.Netns.create({ prefix: 'k10dnh' }), ctr: await sides[0]!.lib.Netns.create({ prefix: 'k10dnc' }), downs: [] as number[] }
if (why) process.stderr.write(`down-ab: no netavark baseline: ${why}\n`)
const nvOpts = join(dir, 'netavark.json')
await writeFile(nvOpts, netavarkOptions({ id: '0123456789abcdef'.repeat(4), name: 'bench', ip: '10.252.0.2', subnet: '10.252.0.0/24', gateway: '10.252.0.1', hostPort: 8080 }))
const load = [loadavg()[0]!]
try {
  for (let i = 0; i < runs + 1; i++) {
    for (const s of sides) {
      const net = s.lib.createNetwork(spec, { netns: s.ns, stateRoot: join(dir, `state-${sides.indexOf(s)}`) })
      await net.up()
      const h = monitorEventLoopDelay({ resolution: 1 })
      h.enable()
      const t0 = performance.now()
      await net.down()
      const ms = performance.now() - t0
      h.disable()
      if (i === 0) continue // warm-up
      s.downs.push(ms)
      s.stall = Math.max(s.stall, h.max / 1e6)
    }
    if (peer) {
      const nv = ['nsenter', `--net=${peer.host.path}`, NETAVARK, '--config', join(dir, 'aardvark'), '-f', nvOpts]
      await execa(nv[0]!, [...nv.slice(1), 'setup', peer.ctr.path])
      const t0 = performance.now()
      await execa(nv[0]!, [...nv.slice(1), 'teardown', peer.ctr.path])
      if (i > 0) peer.downs.push(performance.now() - t0)
    }
  }
} finally {
  for (const s of sides) await s.ns.delete()
  if (peer) for (const n of [peer.host, peer.ctr]) await n.delete()
  await rm(dir, { recursive: true, force: true })
}
load.push(loadavg()[0]!)
const nvMedian = peer ? median(peer.downs) : undefined
console.log(JSON.stringify({ runs, load, netavarkTeardownMs: nvMedian && +nvMedian.toFixed(1) }))
for (const s of sides) {
  const m = median(s.downs)
  console.log(JSON.stringify({ tree: s.tree, downMedianMs: +m.toFixed(1), ratio: nvMedian ? +(m / nvMedian).toFixed(3) : undefined, maxLoopStallMs: +s.stall.toFixed(1) }))
}
