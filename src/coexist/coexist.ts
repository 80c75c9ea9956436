/**
 * Coexistence with the other firewalls of a namespace, for one network: add what each one needs to let
 * the bridge's traffic through (Docker: DOCKER-USER accepts; ufw: its own allow rules; firewalld: a zone),
 * record it, and remove exactly that on down. What kvmnet cannot fix — a drop policy in a table nobody
 * kvmnet knows owns — is never modified, only named in a warning.
 */
import { FirewallToolError, undoThenThrow } from '../errors.js'
import type { NetnsRef } from '../netns/index.js'
import { detectFirewalls, type ListedChain } from './detect.js'
import { DOCKER_USER, dockerFixCommands, dockerRules, dockerSites, ensureDockerRules, removeDockerRules } from './docker.js'
import { KVMNET_ZONE, firewalldFixCommands, ensureZone, removeZone, zoneOfInterface } from './firewalld.js'
import { deleteTagged, iptablesTool, listChain, taggedRules } from './iptables.js'
import { coexistTag, type CoexistRecord, type CoexistTarget, type CoexistWarning, type Detected } from './model.js'
import { mustRun } from './run.js'
import { ensureUfwRules, removeUfwRules, ufwArgs, ufwRules } from './ufw.js'

export interface CoexistResult {
  /** What kvmnet has in place for the network now (undefined: nothing). */
  record: CoexistRecord | undefined
  added: number
  removed: number
  warnings: CoexistWarning[]
  /** Undo what this call added (a later step of the same apply failed). */
  undo: () => Promise<void>
}

export interface CoexistOptions {
  /** Called with what is about to be added, before it is: a process killed mid-way leaves a state `down` and `gc` finish from. */
  journal?: (record: CoexistRecord) => Promise<void>
  /** The namespace's nftables chains, when the caller has listed them already (not listed again). */
  chains?: readonly ListedChain[] | undefined
}

/** The warnings for blockers kvmnet leaves in place: foreign drop policies, and the known firewalls when coexistence is off. */
export function blockerWarnings(d: Detected, target: Pick<CoexistTarget, 'network' | 'bridge' | 'scope'>, coexist: boolean): CoexistWarning[] {
  const out: CoexistWarning[] = d.foreignDrops.map((c) => ({
    code: 'nft-foreign-drop' as const,
    object: `${c.family} ${c.table} ${c.name} (hook ${c.hook}, policy ${c.policy})`,
    message: `table ${c.family} ${c.table} is not kvmnet's and its ${c.hook} chain ${c.name} drops what it does not accept: ${target.network}'s traffic too (kvmnet does not modify it)`,
    fix: `accept the bridge there (nft insert rule ${c.family} ${c.table} ${c.name} iifname ${target.bridge} accept; and oifname ${target.bridge} accept), or use that firewall's own configuration`,
  }))
  if (coexist) return out
  for (const [f, backend] of dockerSites(d))
    out.push({
      code: 'docker-forward-drop',
      object: `${f === 4 ? 'ip' : 'ip6'} filter FORWARD (Docker${backend === 'legacy' ? ', iptables-legacy' : ''}, policy drop)`,
      message: `Docker's FORWARD policy drops ${target.network}'s forwarded and bridged traffic, and firewall.coexist is false`,
      fix: dockerFixCommands(target, f, backend).join('; '),
    })
  if (d.ufw)
    out.push({ code: 'ufw-blocks', object: 'ufw (active)', message: `ufw's default policies drop ${target.network}'s DHCP, DNS and forwarded traffic, and firewall.coexist is false`, fix: `ufw route allow in on ${target.bridge}; ufw route allow out on ${target.bridge}; ufw allow in on ${target.bridge} to any port 67 proto udp; ufw allow in on ${target.bridge} to any port 53` })
  if (d.firewalld)
    out.push({ code: 'firewalld-zone', object: 'inet firewalld', message: `firewalld rejects what its zones do not allow, and firewall.coexist is false`, fix: firewalldFixCommands(target.bridge).join('; ') })
  return out
}

/**
 * Make the namespace's firewalls let the network through (`enabled`), or take kvmnet's additions away
 * again (coexistence off). `prev`: what an earlier apply recorded.
 */
export async function ensureCoexist(ns: NetnsRef, target: CoexistTarget, enabled: boolean, prev: CoexistRecord | undefined, opts: CoexistOptions = {}): Promise<CoexistResult> {
  const d = await detectFirewalls(ns, opts.chains)
  const network = target.network
  const warnings = blockerWarnings(d, target, enabled)
  const undos: (() => Promise<void>)[] = []
  const undo = async () => {
    for (const u of undos.reverse()) await u()
  }
  let added = 0
  let removed = 0
  if (!enabled) {
    removed = prev ? await removeCoexist(ns, network, prev) : 0
    // A bridge already in a zone that lets it through (the administrator's doing) needs no warning.
    if (d.firewalld && target.zone) {
      // A zone that cannot be read leaves the warning in place, saying why.
      const zone = await zoneOfInterface(ns, target.bridge).then(
        (z) => ({ z }),
        (err: Error) => ({ z: undefined, why: err.message }),
      )
      if (zone.z === 'trusted' || zone.z === 'libvirt') warnings.splice(0, warnings.length, ...warnings.filter((w) => w.code !== 'firewalld-zone'))
      else if ('why' in zone) for (const w of warnings) if (w.code === 'firewalld-zone') w.message += ` (its zone could not be read: ${zone.why})`
    }
    return { record: undefined, added, removed, warnings, undo }
  }

  const ufwWanted = d.ufw ? ufwRules(target) : []
  // firewalld: only a bridge in no zone is bound (one the administrator placed stays where it is).
  const zoneNow = d.firewalld && target.zone ? await zoneOfInterface(ns, target.bridge).catch((e: unknown) => e) : undefined
  const planned: CoexistRecord = {
    bridge: target.bridge,
    ...(d.docker.length ? { docker: d.docker } : {}),
    ...(d.dockerLegacy?.length ? { dockerLegacy: d.dockerLegacy } : {}),
    ...(ufwWanted.length ? { ufw: [...new Set([...(prev?.ufw ?? []), ...ufwWanted])] } : {}),
    ...(d.firewalld && target.zone && zoneNow === undefined ? { firewalld: { zone: KVMNET_ZONE } } : prev?.firewalld ? { firewalld: prev.firewalld } : {}),
  }
  if (planned.docker || planned.dockerLegacy || planned.ufw || planned.firewalld) await opts.journal?.(merge(prev, planned))

  try {
    // Docker: DOCKER-USER accepts, in each family and each iptables Docker manages; stale ones of an earlier shape go.
    const sites = dockerSites(d)
    for (const [family, backend] of sites) {
      const wanted = new Set(dockerRules(target).map((r) => r.join(' ')))
      const listing = (await listChain(ns, family, DOCKER_USER, backend)) ?? ''
      for (const rule of taggedRules(listing, DOCKER_USER, coexistTag(network))) {
        if (wanted.has(rule.join(' '))) continue
        await mustRun(ns, iptablesTool(family, backend), ['-w', '-D', DOCKER_USER, ...rule])
        removed++
      }
      const n = await ensureDockerRules(ns, family, target, backend)
      if (n > 0) undos.push(async () => void (await deleteTagged(ns, family, DOCKER_USER, coexistTag(network), backend)))
      added += n
    }
    for (const [family, backend] of prev ? dockerSites(prev) : [])
      if (!sites.some(([f, b]) => f === family && b === backend)) removed += await removeDockerRules(ns, family, network, backend).catch(() => 0)

    // ufw: its own rules, through ufw.
    let ufwOurs: string[] = []
    if (d.ufw) {
      try {
        const r = await ensureUfwRules(ns, network, ufwWanted)
        ufwOurs = r.ours
        added += r.added
        const stale = (prev?.ufw ?? []).filter((x) => !ufwWanted.includes(x))
        if (stale.length) removed += await removeUfwRules(ns, network, stale)
        const now = r.ours
        if (r.added > 0) undos.push(async () => void (await removeUfwRules(ns, network, now.filter((x) => !(prev?.ufw ?? []).includes(x)))))
      } catch (err) {
        if (!(err instanceof FirewallToolError)) throw err
        warnings.push({ code: 'ufw-blocks', object: 'ufw (active)', message: `ufw's chains are loaded but ufw could not add ${network}'s rules: ${err.message}`, fix: ufwRules(target).map((x) => `ufw ${ufwArgs(x, network, 'add').join(' ')}`).join('; ') })
      }
    }

    // firewalld: the bridge into kvmnet's zone when it is in none.
    let zone = prev?.firewalld?.zone
    if (d.firewalld && target.zone) {
      try {
        if (zoneNow instanceof Error) throw zoneNow
        const r = await ensureZone(ns, target.bridge, zone)
        if (r.added) {
          added++
          const z = r.zone ?? ''
          undos.push(async () => void (await removeZone(ns, target.bridge, z)))
        }
        zone = r.zone
      } catch (err) {
        if (!(err instanceof FirewallToolError)) throw err
        warnings.push({ code: 'firewalld-zone', object: 'inet firewalld', message: `firewalld's table is there but firewall-cmd could not put ${target.bridge} in a zone: ${err.message}`, fix: firewalldFixCommands(target.bridge).join('; ') })
      }
    }
    // ufw not loaded now (disabled since): its files still hold kvmnet's rules, which down deletes.
    const ufwKept = d.ufw ? ufwOurs : (prev?.ufw ?? [])
    const record: CoexistRecord = {
      bridge: target.bridge,
      ...(d.docker.length ? { docker: d.docker } : {}),
      ...(d.dockerLegacy?.length ? { dockerLegacy: d.dockerLegacy } : {}),
      ...(ufwKept.length ? { ufw: ufwKept } : {}),
      ...(zone ? { firewalld: { zone } } : {}),
    }
    const empty = !record.docker && !record.dockerLegacy && !record.ufw && !record.firewalld
    return { record: empty ? undefined : record, added, removed, warnings, undo }
  } catch (err) {
    return await undoThenThrow(err, undo)
  }
}

/** What may be in place: the earlier record and what is about to be added (for the journal). */
function merge(prev: CoexistRecord | undefined, next: CoexistRecord): CoexistRecord {
  if (!prev) return next
  const docker = [...new Set([...(prev.docker ?? []), ...(next.docker ?? [])])]
  const dockerLegacy = [...new Set([...(prev.dockerLegacy ?? []), ...(next.dockerLegacy ?? [])])]
  const ufw = [...new Set([...(prev.ufw ?? []), ...(next.ufw ?? [])])]
  const firewalld = next.firewalld ?? prev.firewalld
  return { bridge: next.bridge, ...(docker.length ? { docker } : {}), ...(dockerLegacy.length ? { dockerLegacy } : {}), ...(ufw.length ? { ufw } : {}), ...(firewalld ? { firewalld } : {}) }
}

/**
 * Remove what kvmnet added for a network: every DOCKER-USER rule and ufw rule tagged with it, and the
 * bridge from the zone it was put in. Each part is attempted; the first failure is rethrown after.
 */
export async function removeCoexist(ns: NetnsRef, network: string, record: CoexistRecord): Promise<number> {
  let removed = 0
  const errors: unknown[] = []
  const attempt = async (fn: () => Promise<number | boolean>) => {
    try {
      const r = await fn()
      removed += typeof r === 'number' ? r : r ? 1 : 0
    } catch (err) {
      errors.push(err)
    }
  }
  for (const [family, backend] of dockerSites(record)) await attempt(() => removeDockerRules(ns, family, network, backend))
  // A tool uninstalled since (nsenter's exit 127, or ENOENT in the current namespace) has nothing of kvmnet's left to remove.
  const unlessGone = async <T>(fn: () => Promise<T>, none: T): Promise<T> => {
    try {
      return await fn()
    } catch (err) {
      if (err instanceof FirewallToolError && (err.exitCode === 127 || (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')) return none
      throw err
    }
  }
  if (record.ufw?.length) await attempt(() => unlessGone(() => removeUfwRules(ns, network), 0))
  const zone = record.firewalld?.zone
  // firewalld stopped since: its runtime zone bindings went with it. Teardown: when the firewalls cannot
  // be listed at all, the binding is removed anyway, and that removal's own failure is what is reported.
  if (zone && (await detectFirewalls(ns).catch(() => undefined))?.firewalld !== false)
    await attempt(() => unlessGone(() => removeZone(ns, record.bridge, zone), false))
  if (errors.length > 0) throw errors[0]
  return removed
}

/**
 * For a network with no state left (gc): the DOCKER-USER and ufw rules tagged with its name, found by the
 * tag alone (a firewalld zone binding carries no tag, so it is not guessed at).
 */
export async function sweepCoexist(ns: NetnsRef, network: string): Promise<number> {
  const d = await detectFirewalls(ns)
  let removed = 0
  for (const [family, backend] of dockerSites(d)) removed += await removeDockerRules(ns, family, network, backend)
  if (d.ufw) removed += await removeUfwRules(ns, network).catch(() => 0)
  return removed
}
