/**
 * A dnsmasq of this network that no pid file leads to (a process killed between spawning it and its pid
 * file being written, or a pid file removed by hand): found by what identifies it beyond doubt — it is
 * dnsmasq, its command line names this state directory's config file, and it lives in this namespace —
 * and stopped by pid + start time, so a reused pid is never signalled.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { NetnsRef } from '../../netns/index.js'
import { netnsId, processFacts, stopProcess } from '../../dnsmasq/index.js'
import { processStartTime } from '../../util/index.js'

/** `ns` null: the namespace is gone (deleted under the network), and the config path alone identifies it. */
export async function strayDnsmasqs(ns: NetnsRef | null, stateDir: string): Promise<{ pid: number; startTime: string }[]> {
  const conf = `--conf-file=${join(stateDir, 'dnsmasq.conf')}`
  const want = ns === null ? undefined : await netnsId(ns)
  const out: { pid: number; startTime: string }[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    const startTime = await processStartTime(pid)
    if (!startTime) continue
    const facts = await processFacts(pid)
    if (facts.exe !== 'dnsmasq' || !facts.argv.includes(conf)) continue
    // A namespace deleted under the network: its dnsmasq keeps the namespace alive but no path names it
    // any more; the config path (unique per state root, namespace and network) is the identity then.
    if (want !== undefined && facts.netns !== want) continue
    out.push({ pid, startTime })
  }
  return out
}

export async function stopStrayDnsmasqs(ns: NetnsRef | null, stateDir: string): Promise<number> {
  const found = await strayDnsmasqs(ns, stateDir)
  for (const id of found) await stopProcess(id, 1000)
  return found.length
}
