/**
 * Reverse-path filtering that drops a network's traffic. rp_filter only drops when the route back to a
 * packet's source does not leave through the interface it came in on (strict, 1) or there is none at all
 * (loose, 2) — normally never for a network's own guests, whose subnet is routed through the bridge. It
 * does when routes are asymmetric: a more specific route (a VPN's) covering part of the subnet elsewhere,
 * or an uplink that is not where the route back to the outside goes.
 *
 * So nothing is guessed from sysctl values alone: the kernel is asked (RTM_GETROUTE, what `ip route get
 * DST from SRC iif DEV` asks: the input route lookup that runs the rp check), and a refusal is reported as
 * rp_filter's only when the rule itself holds — the kernel's route back to SRC leaves elsewhere (strict) or does not exist (loose).
 */
import type { NetnsRef } from '../netns/index.js'
import { NetlinkError } from '../errors.js'
import { readSysctl, type Rtnl } from '../rtnl/index.js'
import type { Finding } from './findings.js'

export interface RpProbe {
  network: string
  /** The interface packets arrive on, and the direction named in the finding. */
  iif: string
  what: string
  src: string
  dst: string
}

/** The kernel's route (`ip route get`), or undefined when it would not route such a packet. */
async function routeGet(rtnl: Rtnl, q: { dst: string; src?: string; iif?: string }): Promise<{ dev?: string } | undefined> {
  try {
    const r = await rtnl.routeGet(q)
    return r.devName !== undefined ? { dev: r.devName } : {}
  } catch (err) {
    // The kernel's refusal (unreachable, a martian source): no route. Anything else is doctor's failure.
    if (err instanceof NetlinkError) return undefined
    throw err
  }
}

async function rpValue(ns: NetnsRef, dev: string): Promise<number> {
  const all = Number((await readSysctl(ns, 'net/ipv4/conf/all/rp_filter').catch(() => '0')).trim())
  const own = Number((await readSysctl(ns, `net/ipv4/conf/${dev}/rp_filter`).catch(() => '0')).trim())
  // The kernel uses the larger of the two.
  return Math.max(all, own)
}

export async function rpFindings(ns: NetnsRef, rtnl: Rtnl, probes: readonly RpProbe[]): Promise<Finding[]> {
  const findings: Finding[] = []
  const reported = new Set<string>()
  for (const p of probes) {
    const mode = await rpValue(ns, p.iif)
    if (mode !== 1 && mode !== 2) continue
    if (await routeGet(rtnl, { dst: p.dst, src: p.src, iif: p.iif })) continue
    const back = await routeGet(rtnl, { dst: p.src })
    const drops = mode === 1 ? back?.dev !== p.iif : back === undefined
    if (!drops) continue
    const key = `${p.network}/${p.iif}/${back?.dev ?? '-'}`
    if (reported.has(key)) continue
    reported.add(key)
    const via = back?.dev ? `the route back to ${p.src} leaves through ${back.dev}` : `there is no route back to ${p.src}`
    findings.push({
      code: 'rp-filter-drop',
      severity: 'error',
      network: p.network,
      object: `net.ipv4.conf.${p.iif}.rp_filter=${mode === 1 ? '1 (strict)' : '2 (loose)'} (effective: max of all and ${p.iif})`,
      problem: `${p.what} (from ${p.src}, arriving on ${p.iif}) is dropped by reverse-path filtering: ${via}`,
      fix: back?.dev
        ? `remove or narrow the route that sends ${p.src} through ${back.dev}, or use loose mode: sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.${p.iif}.rp_filter=2`
        : `add a route back to ${p.src}, or sysctl -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.${p.iif}.rp_filter=0`,
    })
  }
  return findings
}
