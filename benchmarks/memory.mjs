// Resident memory of a process holding N networks with M ports in total (argv: N M), printed as one JSON
// line. Plain JS on the built library (dist/, as a user's process would load it), run as its own process
// by the network benchmark so that neither the benchmark nor a TypeScript loader is counted.
import { rm } from 'node:fs/promises'
import { createNetwork, Netns } from '../dist/index.js'

const nNets = Number(process.argv[2] ?? 100)
const nPorts = Number(process.argv[3] ?? 1000)
const perNet = Math.ceil(nPorts / nNets)
const stateRoot = `/run/kvmnet-bench-mem-${process.pid}`

const ns = await Netns.create({ prefix: 'kvbench-mem' })
const nets = []
try {
  globalThis.gc?.()
  const baselineMB = process.memoryUsage().rss / 2 ** 20
  for (let i = 0; i < nNets; i++) {
    const ports = Array.from({ length: perNet }, (_, j) => ({ name: `m${i}p${j}` }))
    const net = createNetwork(
      { name: `mem${i}`, mode: 'isolated', ipv4: { address: `10.${100 + (i >> 8)}.${i & 255}.1/24` }, ports },
      { netns: ns, stateRoot },
    )
    await net.up()
    nets.push(net)
  }
  globalThis.gc?.()
  const rssMB = process.memoryUsage().rss / 2 ** 20
  console.log(JSON.stringify({ rssMB, baselineMB, networks: nNets, ports: perNet * nNets }))
} finally {
  for (const n of nets) await n.down().catch(() => undefined)
  await ns.delete()
  await rm(stateRoot, { recursive: true, force: true })
}
