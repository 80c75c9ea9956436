/**
 * The tap attachment's wiring inside the container: every frame that arrives on one side (the tap, from
 * the VM; the inner veth end, from the bridge) is sent out of the other by a tc ingress filter (u32
 * matching everything, mirred egress redirect) — no bridge in the container, so the tap's own MAC can be
 * the guest's (which is what KubeVirt copies into the domain) without the bridge dropping the guest's
 * frames as its own. Made over rtnetlink in the container's namespace, as the network's bandwidth step
 * makes its redirects: no tc process, no nsenter.
 */
import { TC_H_INGRESS_HANDLE, type Rtnl } from '../rtnl/index.js'

/** The prio of the redirect filter on each side's ingress (tc's `prio 1`). */
const REDIRECT_PRIO = 1

/** Ingress of `a` out of `b`, and of `b` out of `a` (ifindexes in `cont`'s namespace). */
export async function wireRedirects(cont: Rtnl, a: number, b: number): Promise<void> {
  await Promise.all(
    [
      [a, b],
      [b, a],
    ].map(async ([from, to]) => {
      await cont.replaceQdisc({ kind: 'ingress', dev: from! })
      await cont.addU32Filter({ dev: from!, parent: TC_H_INGRESS_HANDLE, prio: REDIRECT_PRIO, match: { all: true }, redirectTo: to! })
    }),
  )
}
