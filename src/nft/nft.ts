/**
 * The runner: applies, lists and removes kvmnet's tables in one namespace. Every call validates first and
 * then runs exactly one nft command (in process through libnftables, else one nft process); a failed apply
 * changes nothing (nft transactions are all or nothing).
 */
import { tableExists, tableNamedExists, tablesPresent } from './table-exists.js'
import { readLearned } from './learned-netlink.js'
import { LEARN_FAMILIES, learnTableName, learningRemoveCommands, parseLearningPorts, renderLearning, renderLearningPorts, renderLearningRemove, tagOfLearnTable } from './learn.js'
import type { NetnsRef } from '../netns/index.js'
import type { NftDocument, NftListing } from './json.js'
import { releaseInProcess } from './libnftables.js'
import type { AddressLearning, InstalledNetworkRules, LearnedAddress, NetworkRules, RequiredSysctl } from './model.js'
import { TABLE_FAMILY, TAG_PATTERN, tableName, tagOfTable } from './names.js'
import { chainsOf, parseInstalled, rulesOf, type ListedRule } from './parse.js'
import { renderFirstInstall, renderRemove, renderRules, renderRulesMany } from './render.js'
import { nftApply, nftQuery, nftWarm, type NftRunOptions } from './run.js'
import { requiredSysctls } from './sysctls.js'
import { NftError } from '../errors.js'

/**
 * `probablyAbsent`: the caller has no record of the tables (a network's first apply). They are then looked
 * for (one netlink request each) and, when none is there, created by a transaction that only adds: see
 * renderFirstInstall. Where one is there after all (left by a crash), it is replaced as always.
 */
export interface FirstHint {
  probablyAbsent?: boolean
  /** Whether any of the tables is there, when the caller has looked already (nftFirstLook): not asked again. */
  present?: boolean | undefined
  /**
   * An edit's appends alone (renderAddsOnly of the recorded and the wanted rules), tried first: a
   * transaction that deletes nothing. Refused (the table or a chain deleted by hand), the full replace runs.
   */
  onlyAdds?: NftDocument | undefined
}

export class Nft {
  readonly ns: NetnsRef | undefined
  private readonly opts: NftRunOptions

  /**
   * `ns` undefined (or isCurrent): the namespace this process is in. `opts.onFallback` is called once per
   * runner, the first time it has to run the nft program because libnftables cannot be loaded.
   */
  constructor(ns?: NetnsRef, opts: NftRunOptions = {}) {
    this.ns = ns
    const tell = opts.onFallback
    let told = false
    this.opts = tell
      ? {
          ...opts,
          onFallback: (w) => {
            if (told) return
            told = true
            tell(w)
          },
        }
      : opts
  }

  /** Lets the namespace's libnftables thread go now rather than when it idles out (it holds the namespace). */
  close(): void {
    releaseInProcess(this.ns)
  }

  /** Starts the namespace's libnftables thread ahead of a transaction (see nftWarm). */
  async warm(): Promise<void> {
    await nftWarm(this.ns, this.opts)
  }

  /** `nft -j <words>` (a listing), parsed: read-only looks at other tables (doctor's firewalld zones). */
  async query(words: readonly string[]): Promise<NftListing> {
    return nftQuery(this.ns, words, this.opts)
  }

  /**
   * Create or atomically replace the rules of one network. SpecError before nft runs; NftError if nft
   * refuses. `rendered`: renderRules(rules), when the caller has it already (it hashed it).
   */
  async apply(rules: NetworkRules, rendered: NftDocument = renderRules(rules), opts: FirstHint = {}): Promise<void> {
    if (opts.onlyAdds) {
      const refused = await nftApply(this.ns, opts.onlyAdds, this.opts).then(
        () => undefined,
        (e: unknown) => {
          if (e instanceof NftError) return e
          throw e
        },
      )
      if (!refused) return
    }
    const first = opts.probablyAbsent === true && !(opts.present ?? (await tablesPresent(this.ns, [[tableName(rules.tag), TABLE_FAMILY], [tableName(rules.tag), 'bridge']])).includes(true))
    await nftApply(this.ns, first ? renderFirstInstall(rendered) : rendered, this.opts)
  }

  /** Several networks in one transaction. */
  async applyMany(rules: readonly NetworkRules[]): Promise<void> {
    if (rules.length === 0) return
    await nftApply(this.ns, renderRulesMany(rules), this.opts)
  }

  /** Delete a network's table; fine if it is not there. */
  async remove(tag: string): Promise<void> {
    await nftApply(this.ns, renderRemove([tag]), this.opts)
  }

  /** Every kvmnet table in the namespace, parsed. */
  async list(): Promise<InstalledNetworkRules[]> {
    return parseInstalled(await nftQuery(this.ns, ['list', 'ruleset', TABLE_FAMILY], this.opts))
  }

  /** The rules of a network's tables (inet, then the port filters' bridge table) as the kernel lists them. */
  async rules(tag: string): Promise<ListedRule[]> {
    const [inetThere, bridge] = await Promise.all([tableExists(this.ns, tag), this.bridgeTable(tag)])
    if (!inetThere) return []
    const inet = rulesOf(await nftQuery(this.ns, ['list', 'table', TABLE_FAMILY, tableName(tag)], this.opts), TABLE_FAMILY, tableName(tag))
    return [...inet, ...rulesOf(await bridge(), 'bridge', tableName(tag))]
  }

  /** One network's table as the kernel has it, or undefined when there is none. */
  async get(tag: string): Promise<InstalledNetworkRules | undefined> {
    const [inetThere, bridge] = await Promise.all([tableExists(this.ns, tag), this.bridgeTable(tag)])
    if (!inetThere) return undefined
    const installed = parseInstalled(await nftQuery(this.ns, ['list', 'table', TABLE_FAMILY, tableName(tag)], this.opts))[0]
    // The port filters' bridge-family table goes with it: a hand edit there is drift too.
    if (installed) installed.bridgeChains = chainsOf(await bridge(), 'bridge', tableName(tag))
    return installed
  }

  /**
   * The listing of a network's bridge-family table (the port filters), or an empty one when there is
   * none: that table only, not the whole bridge ruleset, which also holds the learning tables with a set
   * of every port (1000 names to format and parse on a 1000-port network). Whether it is there is asked
   * now; the listing runs when called.
   */
  private async bridgeTable(tag: string): Promise<() => Promise<NftListing>> {
    const there = await tableNamedExists(this.ns, tableName(tag), 'bridge')
    return async () => (there ? nftQuery(this.ns, ['list', 'table', 'bridge', tableName(tag)], this.opts) : { nftables: [] })
  }

  /** The tags of the kvmnet tables present (cheaper than list(): tables only). */
  async tags(): Promise<string[]> {
    const doc = await nftQuery(this.ns, ['list', 'tables', TABLE_FAMILY], this.opts)
    const tags: string[] = []
    for (const item of doc.nftables ?? []) {
      const t = item['table'] as { family?: unknown; name?: unknown } | undefined
      if (t?.family !== TABLE_FAMILY || typeof t.name !== 'string') continue
      const tag = tagOfTable(t.name)
      if (tag !== undefined) tags.push(tag)
    }
    return tags.sort()
  }

  /** Orphan cleanup: delete every kvmnet table (and nothing else); returns the tags removed. */
  async removeAll(): Promise<string[]> {
    const tags = await this.tags()
    // A tag that does not fit the pattern was not written by kvmnet (the name only looks like ours).
    const ours = tags.filter((t) => TAG_PATTERN.test(t))
    if (ours.length > 0) await nftApply(this.ns, renderRemove(ours), this.opts)
    return ours
  }

  /**
   * Create or replace a network's address-learning table (learn.ts); what it had learned is forgotten. The
   * other family's table (a converge from another kind left it) goes in the same transaction.
   */
  async applyLearning(l: AddressLearning, opts: FirstHint = {}): Promise<void> {
    const table = learnTableName(l.tag)
    const first = opts.probablyAbsent === true && !(opts.present ?? (await tablesPresent(this.ns, LEARN_FAMILIES.map((f) => [table, f] as const))).includes(true))
    const others = first ? [] : learningRemoveCommands(l.tag, LEARN_FAMILIES.filter((f) => f !== l.family))
    // One transaction: refused, it changed nothing (no sets left without their rules to clean up).
    await nftApply(this.ns, renderLearning(l, first, others), this.opts)
  }

  /**
   * Turn the ports set of a bridge network's learning table from `before` (as learningPorts read it) into
   * `l.ports`, keeping what it learned; nothing is sent when it is right already.
   */
  async applyLearningPorts(l: Extract<AddressLearning, { family: 'bridge' }>, before: readonly string[]): Promise<void> {
    const doc = renderLearningPorts(l, before)
    if (doc) await nftApply(this.ns, doc, this.opts)
  }

  /** The ports set of a bridge network's learning table as it is now (to put it back). */
  async learningPorts(tag: string): Promise<string[]> {
    return parseLearningPorts(await nftQuery(this.ns, ['list', 'set', 'bridge', learnTableName(tag), 'ports'], this.opts))
  }

  /** Delete a network's address-learning tables (both families); fine if there are none. */
  async removeLearning(tag: string): Promise<void> {
    await nftApply(this.ns, renderLearningRemove([tag]), this.opts)
  }

  /** Whether a network's learning table of `family` is there (one netlink request, no nft run). */
  async hasLearning(tag: string, family: AddressLearning['family']): Promise<boolean> {
    return tableNamedExists(this.ns, learnTableName(tag), family)
  }

  /** What a network's learning table holds now (empty when there is none): two set listings. */
  async learned(tag: string, family: AddressLearning['family']): Promise<LearnedAddress[]> {
    // Over netlink, not nft: what parseLearned would make of `nft -j list set` of both (learned-netlink.ts).
    return readLearned(this.ns, family, learnTableName(tag))
  }

  /** The tags of the learning tables present (orphan cleanup). */
  async learningTags(): Promise<string[]> {
    const tags = new Set<string>()
    for (const family of LEARN_FAMILIES) {
      for (const item of (await nftQuery(this.ns, ['list', 'tables', family], this.opts)).nftables ?? []) {
        const t = item['table'] as { name?: unknown } | undefined
        const tag = typeof t?.name === 'string' ? tagOfLearnTable(t.name) : undefined
        if (tag !== undefined) tags.add(tag)
      }
    }
    return [...tags].sort()
  }

  /** Sysctls `rules` need in this namespace (see requiredSysctls). */
  requiredSysctls(rules: NetworkRules): RequiredSysctl[] {
    return requiredSysctls(rules)
  }
}
