/**
 * Taps on a bridge: N = 10 / 100 / 1000 persistent taps created, enslaved and set up, then removed —
 * kvmnet (one native batch of TUNSETIFF, the fds closed and the taps settled (closeTaps), one round of
 * RTM_NEWLINK on one socket without an ack each (Rtnl.setLinks); one RTM_DELLINK for the group) against iproute2 (`ip -batch`, one `ip` per command, `ip link delete group`). Each measurement
 * gets a fresh scratch namespace (prefix kvb-bench-), removed right after.
 *
 *   npx tsx benchmarks/rtnl-links.ts [--quick]
 */
import { execa } from 'execa'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Rtnl } from '../src/rtnl/index.js'
import { closeTaps, createTaps } from '../src/tap/index.js'
import { median, type BenchRow } from './stats.js'

export type { BenchRow }

const GROUP = 4711

interface Scratch {
  name: string
  path: string
  rtnl: Rtnl
  bridgeIndex: number
}

// KVMNET_BENCH_NS_PREFIX replaces the scratch namespaces' leading `kvb` (a helper sharing the host names its own), as in peers.ts.
const nsPrefix = process.env.KVMNET_BENCH_NS_PREFIX ?? 'kvb'

async function scratch(): Promise<Scratch> {
  const name = `${nsPrefix}-bench-${randomBytes(3).toString('hex')}`
  await execa('ip', ['netns', 'add', name])
  const path = `/run/netns/${name}`
  const rtnl = Rtnl.open({ path, name })
  try {
    const br = await rtnl.addLink({ kind: 'bridge', name: 'br0', up: true })
    return { name, path, rtnl, bridgeIndex: br.index }
  } catch (err) {
    rtnl.close()
    await execa('ip', ['netns', 'delete', name], { reject: false })
    throw err
  }
}

async function drop(s: Scratch): Promise<void> {
  s.rtnl.close()
  // The links first, waiting for the kernel to have unregistered them: a namespace delete returns at once
  // and leaves that to a kernel worker (~0.2 s of rtnl-locked work for 1000 taps), which the next
  // measurement, of either side, would otherwise pay for. (An empty group, after a teardown row: ENODEV.)
  await execa('ip', ['-n', s.name, 'link', 'delete', 'group', String(GROUP)], { reject: false })
  await execa('ip', ['netns', 'delete', s.name], { reject: false })
}

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `t${i}`)

async function kvmnetCreate(s: Scratch, n: number): Promise<void> {
  const ns = { path: s.path, name: s.name }
  const taps = createTaps(ns, names(n).map((name) => ({ name, persist: true, vnetHdr: true })))
  // Closed (off the event loop when many) and settled, as a network's ports are: see closeTaps.
  await closeTaps(ns, taps)
  // One round without an ack per request, as the ports step sends it (Rtnl.setLinks).
  await s.rtnl.setLinks(names(n).map((name) => ({ ref: name, change: { master: s.bridgeIndex, group: GROUP, up: true } })))
}

const batchCreate = (n: number): string =>
  names(n)
    .map((name) => `tuntap add mode tap vnet_hdr name ${name}\nlink set ${name} master br0 group ${GROUP} up`)
    .join('\n')

async function ipBatchCreate(s: Scratch, n: number): Promise<void> {
  await execa('ip', ['-n', s.name, '-batch', '-'], { input: batchCreate(n) })
}

async function ipPerCommandCreate(s: Scratch, n: number): Promise<void> {
  for (const name of names(n)) {
    await execa('ip', ['-n', s.name, 'tuntap', 'add', 'mode', 'tap', 'vnet_hdr', 'name', name])
    await execa('ip', ['-n', s.name, 'link', 'set', name, 'master', 'br0', 'group', String(GROUP), 'up'])
  }
}

async function check(s: Scratch, n: number): Promise<void> {
  const got = (await s.rtnl.listLinks({ master: s.bridgeIndex })).filter((l) => l.up && l.group === GROUP).length
  if (got !== n) throw new Error(`expected ${n} taps up on br0, found ${got}`)
}

/** Time `run` in a fresh namespace, after `prepare` (not timed); verify with `verify` (not timed). */
async function timed(prepare: (s: Scratch) => Promise<void>, run: (s: Scratch) => Promise<void>, verify: (s: Scratch) => Promise<void>): Promise<number> {
  const s = await scratch()
  try {
    await prepare(s)
    const t0 = performance.now()
    await run(s)
    const ms = performance.now() - t0
    await verify(s)
    return ms
  } finally {
    await drop(s)
  }
}

async function medianOf(reps: number, once: () => Promise<number>): Promise<number> {
  const xs: number[] = []
  for (let i = 0; i < reps; i++) xs.push(await once())
  return median(xs)
}

/** The medians of two measurements taken in turns (a, b, a, b…), so that a change of load is shared by both. */
async function mediansInTurn(reps: number, a: () => Promise<number>, b: () => Promise<number>): Promise<[number, number]> {
  const xs: number[] = []
  const ys: number[] = []
  for (let i = 0; i < reps; i++) {
    xs.push(await a())
    ys.push(await b())
  }
  return [median(xs), median(ys)]
}

const none = async (): Promise<void> => undefined

async function empty(s: Scratch): Promise<void> {
  const left = (await s.rtnl.listLinks({ group: GROUP })).length
  if (left !== 0) throw new Error(`${left} links of group ${GROUP} left`)
}

function row(name: string, n: number, kvmnetMs: number, baselineMs: number, baseline: string, goal?: string): BenchRow {
  return { name: name.replace('taps', `${n} taps`), n, kvmnetMs, baselineMs, baseline, ratio: kvmnetMs / baselineMs, ...(goal ? { goal } : {}) }
}

export async function runRtnlBench(opts: { quick: boolean }): Promise<BenchRow[]> {
  const sizes = opts.quick ? [10, 100] : [10, 100, 1000]
  // N=1000 is seconds per run with one `ip` per command on two cores: keep those runs few.
  const repsFor = (n: number): number => (opts.quick || n >= 100 ? 3 : 7)
  const rows: BenchRow[] = []
  for (const n of sizes) {
    const reps = repsFor(n)
    const prepareTaps = (s: Scratch): Promise<void> => ipBatchCreate(s, n)
    const [k, b] = await mediansInTurn(
      n >= 1000 ? 5 : reps,
      () => timed(none, (s) => kvmnetCreate(s, n), (s) => check(s, n)),
      () => timed(none, (s) => ipBatchCreate(s, n), (s) => check(s, n)),
    )
    const p = await medianOf(n >= 1000 ? 1 : reps, () => timed(none, (s) => ipPerCommandCreate(s, n), (s) => check(s, n)))
    rows.push(row('taps on a bridge: create + master + up', n, k, b, 'ip -batch', n === 1000 ? '<= 0.8x' : undefined))
    rows.push(row('taps on a bridge: create + master + up', n, k, p, 'one ip per command'))
    const [kd, gd] = await mediansInTurn(
      reps,
      () => timed(prepareTaps, (s) => s.rtnl.deleteGroup(GROUP), empty),
      () => timed(prepareTaps, (s) => execa('ip', ['-n', s.name, 'link', 'delete', 'group', String(GROUP)]).then(() => undefined), empty),
    )
    const bd = await medianOf(n >= 1000 ? 1 : reps, () =>
      timed(prepareTaps, (s) => execa('ip', ['-n', s.name, '-batch', '-'], { input: names(n).map((x) => `link delete ${x}`).join('\n') }).then(() => undefined), empty),
    )
    rows.push(row('taps: teardown (deleteGroup)', n, kd, bd, 'ip -batch link delete'))
    rows.push(row('taps: teardown (deleteGroup)', n, kd, gd, 'ip link delete group', '<= 1.1x'))
  }
  return rows
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await runRtnlBench({ quick: process.argv.includes('--quick') })
  for (const r of rows)
    console.log(
      `${r.name.padEnd(42)} n=${String(r.n).padStart(4)}  kvmnet ${r.kvmnetMs.toFixed(1).padStart(8)} ms   ${r.baseline.padEnd(22)} ${r.baselineMs.toFixed(1).padStart(8)} ms   ratio ${r.ratio.toFixed(2)}`,
    )
}
