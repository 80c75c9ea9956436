/**
 * Run as its own process by test/integration/nft-context-memory.test.ts (argv: namespace name, state
 * root): brings a network up and down once to warm everything up (libnftables loaded, code paged in),
 * then measures the resident memory of the process around a second network's `up`, in a namespace that
 * holds many nft tables that are not kvmnet's. Prints one JSON line: rss before and after (MB, each after
 * a full GC).
 */
import { readFileSync } from 'node:fs'
import { createNetwork } from '../../src/index.js'

const [netns, stateRoot] = process.argv.slice(2) as [string, string]
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with --expose-gc')

function rssMB(): number {
  gc!()
  // VmRSS from /proc: what the kernel holds for the process, glibc arenas included.
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))
  return Number(line?.split(/\s+/)[1]) / 1024
}

function net(i: number) {
  return createNetwork({ name: `kvrm${i}`, mode: 'isolated', ipv4: { address: `10.247.${i}.1/24` }, ports: [{ name: `kvrm${i}-p0` }] }, { netns, stateRoot })
}

const warm = net(0)
await warm.up()
await warm.down()
const before = rssMB()
const second = net(1)
await second.up()
const after = rssMB()
await second.down()
console.log(JSON.stringify({ before, after }))
