/**
 * The network's nftables table: installed (one atomic transaction that replaces the whole table, or, for
 * an edit that only appends rules, those appends alone: adds-only.ts), unchanged when the same rules are
 * already there, or removed when a converge leaves the kind with none.
 */
import { sha256Hex } from '../../util/index.js'
import { renderAddsOnly, renderRules, rulesDrift, tableExists, type NetworkRules, type NftDocument } from '../../nft/index.js'
import type { ApplyContext } from '../driver.js'
import { SpecError } from '../../errors.js'
import { ensureCoexist, removeCoexist } from '../../coexist/index.js'
import { coexistTargetOf } from '../kinds/coexist-target.js'
import { coexistEnabled } from '../kinds/spec-parts.js'
import type { NetworkPlan } from '../plan.js'
import { startedEarly } from '../started.js'

/**
 * The uplink a rule set should use: the one the spec names, else the device of the namespace's IPv4
 * default route (when there is one and it is not the bridge), so guests leave only the way the host does.
 */
export async function resolveUplink(ctx: Pick<ApplyContext, 'rtnl'>, rules: NetworkRules, defaultDev?: DefaultDev): Promise<NetworkRules> {
  if (rules.mode === 'isolated') return rules
  const given = rules.nat?.uplink ?? rules.routed?.uplink
  if (given) {
    // A misspelt uplink would leave the network "up" with every guest packet to the outside dropped.
    if (!(await ctx.rtnl.findLink(given))) throw new SpecError('uplink', `no interface named ${given} in this namespace`)
    return rules
  }
  const dev = defaultDev ? await defaultDev() : (await ctx.rtnl.defaultRoute(4))?.devName
  if (!dev || dev === rules.bridge) return rules
  return rules.mode === 'nat' ? { ...rules, nat: { ...rules.nat, uplink: dev } } : { ...rules, routed: { uplink: dev } }
}

/** The device of the namespace's IPv4 default route, as read by the caller (see defaultDevEarly). */
export type DefaultDev = () => Promise<string | undefined>

/**
 * The default route's device read now, for a rules step that starts later (after the bridge): its first
 * transaction then waits for no request of its own. Only when the rules name no uplink.
 */
export function defaultDevEarly(ctx: Pick<ApplyContext, 'rtnl'>, rules: NetworkRules | undefined): DefaultDev | undefined {
  if (!rules || rules.mode === 'isolated' || rules.nat?.uplink || rules.routed?.uplink) return undefined
  return startedEarly(ctx.rtnl.defaultRoute(4).then((r) => r?.devName))
}

const hashOf = (doc: NftDocument): string => sha256Hex(JSON.stringify(doc))

export async function ensureFirewall(ctx: ApplyContext, planned: NetworkRules | undefined, defaultDev?: DefaultDev): Promise<void> {
  const { state, prev, nft } = ctx
  if (!planned) {
    if (!prev?.nftRules) return
    const before = prev.nftRules
    await ctx.tx.step('nft-remove', 'nft', async (s) => {
      await nft.remove(before.tag)
      state.nftRules = undefined
      state.nftHash = undefined
      s.outcome('removed')
      s.onUndo(() => nft.apply(before).then(() => undefined))
    })
    return
  }
  await ctx.tx.step('nft', 'nft', async (s) => {
    const rules = await resolveUplink(ctx, planned, defaultDev)
    const rendered = renderRules(rules)
    const hash = hashOf(rendered)
    let repair = false
    if (prev?.nftHash === hash && (await tableExists(ctx.ns, rules.tag))) {
      // Same rules as last time, and a table: unchanged only if its contents are still what was
      // installed (a flushed table, or a rule deleted by hand, is repaired here).
      if (rulesDrift(rules, await nft.get(rules.tag)).problems.length === 0) {
        s.outcome('unchanged')
        return
      }
      repair = true
    }
    const before = prev?.nftRules
    // Nothing recorded: most likely nothing there, made by a transaction that deletes nothing (Nft.apply).
    // An edit that only adds rules, over a table the state vouches for (no apply cut short, no repair
    // found here, the record rendered as it was hashed): its appends alone, a transaction that deletes nothing.
    const prevDoc = before && !repair && !prev?.applying ? renderRules(before) : undefined
    const onlyAdds = prevDoc && hashOf(prevDoc) === prev?.nftHash ? renderAddsOnly(prevDoc, rendered) : undefined
    await nft.apply(rules, rendered, { probablyAbsent: !before, present: before ? undefined : (await ctx.nftLook?.())?.rulesPresent, onlyAdds })
    s.outcome(repair ? 'repaired' : before ? 'updated' : 'created')
    s.onUndo(async () => {
      if (before) await nft.apply(before)
      else await nft.remove(rules.tag)
    })
    state.nftHash = hash
    state.nftRules = rules
  })
}

/**
 * Coexistence with the namespace's other firewalls (Docker, ufw, firewalld): what they need to let the
 * bridge's traffic through, added and recorded (state.coexist) — or, with firewall.coexist false, what an
 * earlier apply added, removed. Blockers kvmnet leaves in place are emitted as warnings.
 */
export async function ensureCoexistence(ctx: ApplyContext, plan: NetworkPlan): Promise<void> {
  const { state, prev } = ctx
  const target = coexistTargetOf(state.spec, plan, { evenIfOff: true })
  const before = prev?.coexist
  if (!target) {
    // A kind without a bridge (macvtap): nothing to let through; what a converge from another kind left goes.
    if (before) await ctx.tx.step('coexist', 'nft', async (s) => {
      await removeCoexist(ctx.ns, state.name, before)
      state.coexist = undefined
      s.outcome('removed')
    })
    return
  }
  await ctx.tx.step('coexist', 'nft', async (s) => {
    const r = await ensureCoexist(ctx.ns, target, coexistEnabled(state.spec), before, {
      chains: (await ctx.nftLook?.())?.chains,
      journal: async (record) => {
        state.coexist = record
        await ctx.journal()
      },
    })
    state.coexist = r.record
    s.outcome(r.added > 0 ? (before ? 'updated' : 'created') : r.removed > 0 ? 'removed' : 'unchanged')
    s.onUndo(async () => {
      await r.undo()
      state.coexist = before
    })
    for (const w of r.warnings) ctx.warn(w)
  })
}
