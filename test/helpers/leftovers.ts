/**
 * Asserts that a network left nothing in its namespace: no link tagged with it, no kvmnet nft table, no
 * dnsmasq running in the namespace, no state directory.
 */
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs'
import type { Test } from 'tap'
import type { TestNs } from './ns.js'
import { links } from './ip.js'

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

/** PIDs of processes named `comm` whose network namespace is the one at `nsPath`. */
export function processesIn(nsPath: string, comm: string): number[] {
  const want = `net:[${statSync(nsPath).ino}]`
  const out: number[] = []
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || read(`/proc/${p}/comm`).trim() !== comm) continue
    try {
      if (readlinkSync(`/proc/${p}/ns/net`) === want) out.push(Number(p))
    } catch {}
  }
  return out
}

/** `others`: PIDs of dnsmasq processes in the namespace that are not kvmnet's (libvirt's own networks'). */
export async function assertNothingLeft(t: Test, ns: TestNs, network: string, stateRoot = `/run/kvmnet-test/${ns.name}`, others: readonly number[] = []): Promise<void> {
  const tagged = (await links(ns)).filter((l) => l.ifalias?.startsWith(`kvmnet:${network}:`)).map((l) => l.ifname)
  t.same(tagged, [], `${network}: no tagged link left`)
  const tables = await ns.run('nft', ['list', 'tables'])
  t.notOk(/kvmnet/.test(tables), `${network}: no kvmnet nft table left`)
  t.same(processesIn(ns.path, 'dnsmasq').filter((p) => !others.includes(p)), [], `${network}: no dnsmasq left in the namespace`)
  const dirs = existsSync(stateRoot) ? readdirSync(stateRoot).filter((label) => existsSync(`${stateRoot}/${label}/${network}`)) : []
  t.same(dirs, [], `${network}: no state directory left`)
}

/** The state file of `network` under a state root (whichever namespace label it is under), if any. */
export function stateFileOf(stateRoot: string, network: string): string | undefined {
  if (!existsSync(stateRoot)) return undefined
  for (const label of readdirSync(stateRoot)) {
    const f = `${stateRoot}/${label}/${network}/network.json`
    if (existsSync(f)) return f
  }
  return undefined
}
