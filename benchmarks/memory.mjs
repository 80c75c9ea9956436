// Resident memory of a process holding N networks with M ports in total (argv: N M [settle]), printed as
// one JSON line. Plain JS on the built library (dist/, as a user's process would load it), run as its own
// process by the network benchmark so that neither the benchmark nor a TypeScript loader is counted.
//
// Besides the RSS right after the last up, the line breaks it down (what V8 has committed, its young
// generation among it, the rest: malloc'd memory, the node binary's pages and stacks) and, with `settle`,
// gives the RSS once the process has been idle long enough for V8's memory reducer to run (it starts ~8 s
// after the last full GC when little is being allocated, and gives back the young generation V8 grew
// during the burst): what a process that keeps the networks up (kvmnet up --foreground, a service) sits at;
// and, in between, 3 s after the last up, once kvmnet's idle trim has given glibc's free pages back.
import { rm } from 'node:fs/promises'
import { getHeapSpaceStatistics } from 'node:v8'
import { createNetwork, Netns } from '../dist/index.js'

const nNets = Number(process.argv[2] ?? 100)
const nPorts = Number(process.argv[3] ?? 1000)
const settle = process.argv[4] === 'settle'
const perNet = Math.ceil(nPorts / nNets)
const stateRoot = `/run/kvmnet-bench-mem-${process.pid}`
const MB = 2 ** 20
const SETTLE_MAX_MS = Number(process.env.SETTLE_MAX_MS ?? 120_000)

function figures() {
  const m = process.memoryUsage()
  const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0
  return { rssMB: m.rss / MB, heapTotalMB: m.heapTotal / MB, heapUsedMB: m.heapUsed / MB, youngMB: young / MB, externalMB: m.external / MB }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

const ns = await Netns.create({ prefix: process.env.BENCH_NS_PREFIX ?? 'kvbench-mem' })
const nets = []
try {
  globalThis.gc?.()
  const before = figures()
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
  const after = figures()
  let settled
  let trimmed
  if (settle) {
    // A few seconds idle: kvmnet gives glibc's freed pages back 2 s after its last operation
    // (src/native/idle-trim.ts), well before V8's memory reducer acts.
    await sleep(3000)
    trimmed = figures()
    // Idle, as a process holding the networks is: V8 decides when; the young generation shrinking is the
    // sign it has. Then a little longer for the freed pages to be unmapped (V8 does that on a thread).
    const start = performance.now()
    while (performance.now() - start < SETTLE_MAX_MS && figures().youngMB > before.youngMB) await sleep(1000)
    await sleep(2000)
    settled = { ...figures(), idleS: (performance.now() - start) / 1000 }
  }
  console.log(JSON.stringify({ ...after, baselineMB: before.rssMB, before, trimmed, settled, networks: nNets, ports: perNet * nNets }))
} finally {
  for (const n of nets) await n.down().catch(() => undefined)
  await ns.delete()
  await rm(stateRoot, { recursive: true, force: true })
}
