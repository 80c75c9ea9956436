/**
 * ifindexes for new macvtaps. A macvtap's character device is /dev/tap<ifindex>, but /dev is shared by
 * every namespace while ifindexes are per namespace: two macvtaps with the same ifindex in different
 * namespaces fight over one node, and devtmpfs silently keeps the first. So kvmnet picks the ifindex
 * itself, one whose /dev/tapN does not exist, and holds it reserved (process-wide, since the namespaces
 * share /dev) until the node has appeared.
 */
import { existsSync, readdirSync } from 'node:fs'
import { randomInt } from 'node:crypto'

const reserved = new Set<number>()
// Far above the indexes namespaces hand out by themselves (they count up from 1), so neither this
// process's other namespaces nor other tools are likely to want the same number meanwhile.
const LOW = 1 << 16
const HIGH = 1 << 30

export function tapDevicePath(ifindex: number): string {
  return `/dev/tap${ifindex}`
}

function devTaps(): Set<number> {
  const out = new Set<number>()
  for (const n of readdirSync('/dev')) {
    const m = /^tap(\d+)$/.exec(n)
    if (m) out.add(Number(m[1]))
  }
  return out
}

/** Reserve an ifindex unused in the namespace (`used`) and without a /dev/tapN; release() when done. */
export function reserveMacvtapIndex(used: ReadonlySet<number>): { index: number; release(): void } {
  const taken = devTaps()
  for (;;) {
    const index = randomInt(LOW, HIGH)
    if (used.has(index) || taken.has(index) || reserved.has(index) || existsSync(tapDevicePath(index))) continue
    reserved.add(index)
    return { index, release: () => reserved.delete(index) }
  }
}

/**
 * Wait until devtmpfs shows the node. device_add normally waits for devtmpfs itself, so this is about
 * a millisecond at most; the bound keeps a /dev without devtmpfs from hanging a create.
 */
export async function waitForTapDevice(ifindex: number, ms = 1000): Promise<boolean> {
  const path = tapDevicePath(ifindex)
  const until = Date.now() + ms
  while (!existsSync(path)) {
    if (Date.now() > until) return false
    await new Promise((r) => setTimeout(r, 2))
  }
  return true
}
