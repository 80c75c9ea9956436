/**
 * One driver per network kind. A driver owns its kind's relational checks, its plan type, the steps
 * that make the kernel match the plan, its teardown and its status; the Network handle only picks the
 * driver by `mode` and runs it inside a transaction. Steps every kind shares (bridge, ports, nft,
 * dnsmasq, sysctls) are helpers under steps/ that drivers compose.
 */
import type { Netns } from '../netns/index.js'
import type { LinkInfo, Rtnl } from '../rtnl/index.js'
import type { Nft, NftFirstLook } from '../nft/index.js'
import type { Dnsmasq } from '../dnsmasq/index.js'
import type { NetworkMode, SpecOf, IssueSink } from './spec.js'
import type { PlanOf } from './plan.js'
import type { NetworkState } from './state.js'
import type { StepName, Transaction } from '../util/index.js'
import type { CoexistWarning } from '../coexist/index.js'

/** The dnsmasq instance of a network, as the handle holds it (supervised child or adopted). */
export interface DnsmasqSlot {
  readonly mode: 'supervised' | 'detached'
  /** The running dnsmasq: the handle's own, or one adopted from the state (after its identity checks). */
  current(state: NetworkState | undefined): Promise<Dnsmasq | undefined>
  /** A new instance became the network's (events wired), or none is (undefined). */
  set(d: Dnsmasq | undefined): void
}

/** What a driver's apply works with. */
export interface ApplyContext {
  readonly ns: Netns
  readonly rtnl: Rtnl
  readonly nft: Nft
  readonly tx: Transaction
  /** The state being built (written at the end of a successful apply). */
  readonly state: NetworkState
  /** The state before this apply (undefined on a first apply). */
  readonly prev: NetworkState | undefined
  readonly stateDir: string
  readonly dnsmasq: DnsmasqSlot
  /** fds of non-persistent taps this apply created, by port name (the handle takes ownership on success). */
  readonly newFds: Map<string, number[]>
  /** Remove ports of this network that the plan does not list (a full apply; adding one port prunes nothing). */
  readonly prunePorts: boolean
  /**
   * 'signal': a reload of dnsmasq's reservations only sends SIGHUP, without waiting for its log to say it
   * read them (a CNI attachment whose container sets its own address, or one going away).
   */
  readonly dnsmasqReload?: 'confirm' | 'signal' | undefined
  /**
   * Write the state as it is now, before a step changes something only the state can undo (a sysctl's
   * old value, a NIC's addresses, a detached dnsmasq): a process killed right after leaves a state from
   * which `down` and `gc` finish the job. Writes are serialized.
   */
  journal(): Promise<void>
  /** Something in the namespace will still block the network (emitted as the handle's 'warning' event). */
  warn(w: CoexistWarning): void
  /**
   * A first apply's links by name as its preflight listed them (every name the plan gives a link) before
   * anything was changed, its subnets checked then too: the bridge and ports steps do not ask again.
   */
  readonly linksBefore?: LinksBefore | undefined
  /** A full converge's read of nf_tables made at its start (nft-look.ts); steps without it look for themselves. */
  readonly nftLook?: (() => Promise<NftFirstLook>) | undefined
}

/** A first apply's links as its preflight saw them: `names` asked for, `byName` those that exist. */
export interface LinksBefore {
  readonly names: ReadonlySet<string>
  readonly byName: ReadonlyMap<string, LinkInfo>
}

/** What a driver's teardown works with: the recorded state, since the spec may be gone or changed. */
export interface TeardownContext {
  readonly ns: Netns
  readonly rtnl: Rtnl
  readonly nft: Nft
  readonly state: NetworkState | undefined
  readonly stateDir: string
  readonly dnsmasq: DnsmasqSlot
  /** Runs one teardown step; a failure is collected (the other steps still run), NotFound is success. */
  attempt(step: StepName, category: 'links' | 'addresses' | 'sysctls' | 'nft' | 'dnsmasq' | 'state', fn: () => Promise<void>): Promise<void>
}

export interface StatusContext {
  readonly ns: Netns
  readonly rtnl: Rtnl
  readonly nft: Nft
  readonly state: NetworkState | undefined
  readonly dnsmasq: Dnsmasq | undefined
  /**
   * Links status already read in this pass (the bridge and its ports, or the network's group), by name:
   * a driver's check looks here before asking the kernel again.
   */
  readonly seen?: ReadonlyMap<string, LinkInfo> | undefined
}

export interface NetworkDriver<M extends NetworkMode = NetworkMode> {
  readonly mode: M
  /** Relations between the kind's fields (the schema has checked each field's shape). */
  check(spec: SpecOf<M>, bad: IssueSink): void
  /** Everything that follows from the spec alone. */
  plan(spec: SpecOf<M>): PlanOf<M>
  /** Make the kernel match the plan (create, or converge a running network), as steps of ctx.tx. */
  apply(ctx: ApplyContext, plan: PlanOf<M>): Promise<void>
  /** Remove what the network owns and put back what it borrowed; must work from the state alone. */
  teardown(ctx: TeardownContext, plan: PlanOf<M>): Promise<void>
  /** What is wrong with this kind's own parts (beyond the shared bridge/ports/nft/dnsmasq checks). */
  problems(ctx: StatusContext, plan: PlanOf<M>): Promise<string[]>
}
