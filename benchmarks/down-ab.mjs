#!/usr/bin/env node
// A/B of `Network.down` (one-port NAT network with a forward, DNS off, as the peers group's row) for one
// tree's build: `node benchmarks/down-ab.mjs <tree> [runs]` prints the median down, its steps' share not
// being the link delete, and the longest event-loop stall seen during the downs (monitorEventLoopDelay).
// Run it alternately against two trees (each with its dist/ and prebuilds/ built) to compare them.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const tree = resolve(process.argv[2] ?? '.')
const runs = Number(process.argv[3] ?? 15)
const { createNetwork, Netns } = await import(pathToFileURL(join(tree, 'dist/index.js')).href)
const spec = {
  name: 'ab1',
  mode: 'nat',
  ipv4: { address: '10.252.0.1/24' },
  dns: { enabled: false },
  ports: [{ name: 'kvp0' }],
  forwards: [{ proto: 'tcp', hostPort: 8080, guest: '10.252.0.2', guestPort: 80 }],
}
const ns = await Netns.create({ prefix: process.env.AB_PREFIX ?? 'k10dab' })
const stateRoot = await mkdtemp(join(tmpdir(), 'kvmnet-k10dab-'))
const downs = []
let stall = 0
try {
  for (let i = 0; i < runs + 2; i++) {
    const net = createNetwork(spec, { netns: ns, stateRoot })
    await net.up()
    const h = monitorEventLoopDelay({ resolution: 1 })
    h.enable()
    const t0 = performance.now()
    await net.down()
    const ms = performance.now() - t0
    h.disable()
    if (i < 2) continue // warm-up
    downs.push(ms)
    stall = Math.max(stall, h.max / 1e6)
  }
} finally {
  await ns.delete()
  await rm(stateRoot, { recursive: true, force: true })
}
downs.sort((a, b) => a - b)
const med = downs[Math.floor(downs.length / 2)]
console.log(JSON.stringify({ tree, runs, downMedianMs: +med.toFixed(2), downMinMs: +downs[0].toFixed(2), maxLoopStallMs: +stall.toFixed(1) }))
