/**
 * nft layer latency: kvmnet's apply/remove of a realistic NAT network with 10 port forwards (in process
 * through libnftables where it loads, see nft-inprocess.ts) against plain `nft -f` of the same ruleset as text, in a scratch namespace, interleaved run by run so both see
 * the same machine state. The baseline text is what the kernel holds after a kvmnet apply (`nft list
 * table`), so both sides install exactly the same rules. Goal: ratio <= 1.1.
 *
 *   npx tsx benchmarks/nft-apply.ts [--quick]
 */
import { execa } from 'execa'
import { median, type BenchRow } from './stats.js'
export type { BenchRow }
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Nft, type NetworkRules } from '../src/nft/index.js'


const TAG = 'bench'

export function benchRules(forwardCount = 10): NetworkRules {
  return {
    tag: TAG,
    bridge: 'kvbr-bench',
    mode: 'nat',
    ipv4: { subnet: '192.168.150.0/24', hostAddress: '192.168.150.1' },
    ipv6: { subnet: 'fd00:150::/64', hostAddress: 'fd00:150::1' },
    nat: { uplink: 'eth0' },
    forwards: Array.from({ length: forwardCount }, (_, i) => ({
      proto: i % 3 === 2 ? ('udp' as const) : ('tcp' as const),
      hostPort: 10000 + i,
      guest: `192.168.150.${10 + i}`,
      guestPort: i % 2 === 0 ? 22 : 80,
    })),
  }
}


async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - t0) / 1e6
}

export async function runNftBench(opts: { quick: boolean }): Promise<BenchRow[]> {
  const runs = opts.quick ? 8 : 30
  const name = `kvc-bench-${randomBytes(3).toString('hex')}`
  const path = `/run/netns/${name}`
  const dir = await mkdtemp(join(tmpdir(), 'kvmnet-nft-bench-'))
  await execa('ip', ['netns', 'add', name])
  try {
    const nft = new Nft({ path, name })
    const rules = benchRules(10)
    const inNs = (args: string[]): Promise<unknown> => execa('nsenter', [`--net=${path}`, '--', 'nft', ...args])

    // The baseline's text: exactly what kvmnet installed, with the same replace-whole-table idiom.
    await nft.apply(rules)
    const listed = (await execa('nsenter', [`--net=${path}`, '--', 'nft', 'list', 'table', 'inet', `kvmnet_${TAG}`])).stdout
    const textFile = join(dir, 'ruleset.nft')
    await writeFile(textFile, `add table inet kvmnet_${TAG}\ndelete table inet kvmnet_${TAG}\n${listed}\n`)
    await nft.remove(TAG)

    const apply = { k: [] as number[], b: [] as number[] }
    const remove = { k: [] as number[], b: [] as number[] }
    const replace = { k: [] as number[], b: [] as number[] }
    // One untimed round each to warm caches (binary, libraries, modules) before measuring.
    for (let i = -1; i < runs; i++) {
      const k1 = await timed(() => nft.apply(rules))
      const k2 = await timed(() => nft.apply(rules))
      const k3 = await timed(() => nft.remove(TAG))
      const b1 = await timed(() => inNs(['-f', textFile]))
      const b2 = await timed(() => inNs(['-f', textFile]))
      const b3 = await timed(() => inNs(['delete', 'table', 'inet', `kvmnet_${TAG}`]))
      if (i < 0) continue
      apply.k.push(k1), replace.k.push(k2), remove.k.push(k3)
      apply.b.push(b1), replace.b.push(b2), remove.b.push(b3)
    }
    const row = (label: string, s: { k: number[]; b: number[] }, baseline: string): BenchRow => {
      const kvmnetMs = median(s.k)
      const baselineMs = median(s.b)
      return { name: label, n: runs, kvmnetMs, baselineMs, baseline, ratio: kvmnetMs / baselineMs, goal: '<= 1.1x' }
    }
    return [
      row('nft apply (create, NAT + 10 forwards)', apply, 'nft -f ruleset.nft (text)'),
      row('nft apply (replace, NAT + 10 forwards)', replace, 'nft -f ruleset.nft (text)'),
      row('nft remove', remove, 'nft delete table'),
    ]
  } finally {
    await execa('ip', ['netns', 'delete', name], { reject: false })
    await rm(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await runNftBench({ quick: process.argv.includes('--quick') })
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(42)} n=${r.n}  kvmnet ${r.kvmnetMs.toFixed(2)} ms  ${r.baseline} ${r.baselineMs.toFixed(2)} ms  ratio ${r.ratio.toFixed(2)}x`,
    )
  }
}
