/**
 * A spec bound to its kind's driver. `kindOf` is the one place a spec's `mode` picks code: it pairs the
 * spec with the driver of the same kind (TypeScript narrows the spec in each case, so no cast is needed),
 * and what it returns answers every question about the kind — the plan, its parts, its coexistence and
 * watch targets, and the driver's apply, teardown and status bound to that plan.
 */
import type { CoexistTarget } from '../../coexist/index.js'
import type { AddressLearning, NetworkRules } from '../../nft/index.js'
import type { WatchTargets } from '../../watch/index.js'
import type { ApplyContext, NetworkDriver, StatusContext, TeardownContext } from '../driver.js'
import { linkAlias, rootTag } from '../names.js'
import type { DnsmasqPlan, NetworkPlan, PlanOf } from '../plan.js'
import type { IssueSink, NetworkMode, NetworkSpec, SpecOf } from '../spec.js'
import type { PlannedVxlan } from '../vxlan.js'
import { DEFAULT_STATE_ROOT } from '../state.js'
import { bridgeOf, bridgedOf, dnsmasqOf, firewallOf, hostHelperOf, linkNamesOf, nicOf, vxlanOf } from './plan-parts.js'
import { coexistTargetOf } from './coexist-target.js'
import { coexistEnabled } from './spec-parts.js'
import { watchTargets } from './watch-targets.js'
import { learningOf } from './learning.js'
import { bridgeDriver } from './bridge.js'
import { isolatedDriver } from './isolated.js'
import { macvtapDriver } from './macvtap.js'
import { natDriver } from './nat.js'
import { openDriver } from './open.js'
import { routedDriver } from './routed.js'
import { veryIsolatedDriver } from './very-isolated.js'

/** How a kind builds its L2: converging a network between two of these would leave the old one half in place. */
export type L2Family = 'own-bridge' | 'nic-bridge' | 'macvtap'

/** A network planned from its spec, with its kind's answers. */
export interface PlannedNetwork {
  readonly spec: NetworkSpec
  readonly plan: NetworkPlan
  readonly name: string
  readonly mode: NetworkMode
  readonly l2: L2Family
  /** The bridge kvmnet makes (or that takes over a NIC); undefined for macvtap networks. */
  readonly bridge: string | undefined
  /** The NIC a bridge network enslaves. */
  readonly nic: string | undefined
  /** Host addresses on the bridge (or the macvtap host helper), CIDR. */
  readonly hostAddresses: readonly string[]
  /** The IPv4 subnet the host is on, when it is on one. */
  readonly subnet: string | undefined
  /** Whether the network leads guests to the outside (nat, routed, open). */
  readonly routesGuests: boolean
  readonly firewall: NetworkRules | undefined
  /** Where the guests' addresses are learned from their traffic; undefined for `open` (leases only). */
  readonly learning: AddressLearning | undefined
  readonly dnsmasq: DnsmasqPlan | undefined
  readonly vxlan: PlannedVxlan | undefined
  /** Every name the network gives its links. */
  readonly linkNames: ReadonlySet<string>
  /** firewall.coexist as it applies to this kind. */
  readonly coexist: boolean
  /** What other firewalls must let through; `evenIfOff`: what coexistence would add (doctor's fix). */
  coexistTarget(opts?: { evenIfOff?: boolean }): CoexistTarget | undefined
  watchTargets(): WatchTargets
  apply(ctx: ApplyContext): Promise<void>
  teardown(ctx: TeardownContext): Promise<void>
  /** What is wrong with this kind's own parts (beyond the shared bridge/ports/nft/dnsmasq checks). */
  problems(ctx: StatusContext): Promise<string[]>
}

/** A spec with its driver: its relational checks and its plan. */
export interface BoundKind {
  check(bad: IssueSink): void
  /** `stateRoot` names the owner: its tag is in every link alias, so roots never take each other's links. */
  plan(stateRoot: string): PlannedNetwork
}

export function kindOf(spec: NetworkSpec): BoundKind {
  switch (spec.mode) {
    case 'nat':
      return bind(natDriver, spec, 'own-bridge', true)
    case 'routed':
      return bind(routedDriver, spec, 'own-bridge', true)
    case 'open':
      return bind(openDriver, spec, 'own-bridge', true)
    case 'isolated':
      return bind(isolatedDriver, spec, 'own-bridge', false)
    case 'very-isolated':
      return bind(veryIsolatedDriver, spec, 'own-bridge', false)
    case 'bridge':
      return bind(bridgeDriver, spec, 'nic-bridge', false)
    case 'macvtap':
      return bind(macvtapDriver, spec, 'macvtap', false)
  }
}

function bind<M extends NetworkMode>(driver: NetworkDriver<M>, spec: SpecOf<M>, l2: L2Family, routesGuests: boolean): BoundKind {
  return {
    check: (bad) => driver.check(spec, bad),
    plan: (stateRoot) => {
      const tag = rootTag(stateRoot)
      const own = driver.plan(spec)
      const plan: PlanOf<M> = {
        ...own,
        alias: {
          bridge: linkAlias(spec.name, 'bridge', tag),
          port: linkAlias(spec.name, 'port', tag),
          host: linkAlias(spec.name, 'host', tag),
          vxlan: linkAlias(spec.name, 'vxlan', tag),
          ifb: linkAlias(spec.name, 'ifb', tag),
        },
      }
      return planned(driver, spec, plan, l2, routesGuests)
    },
  }
}

function planned<M extends NetworkMode>(driver: NetworkDriver<M>, spec: SpecOf<M>, plan: PlanOf<M>, l2: L2Family, routesGuests: boolean): PlannedNetwork {
  const bridged = bridgedOf(plan)
  const helper = hostHelperOf(plan)
  return {
    spec,
    plan,
    name: spec.name,
    mode: spec.mode,
    l2,
    bridge: bridgeOf(plan),
    nic: nicOf(plan),
    hostAddresses: bridged?.addresses ?? helper?.addresses ?? [],
    subnet: bridged?.subnet ?? helper?.subnet,
    routesGuests,
    firewall: firewallOf(plan),
    learning: learningOf(plan),
    dnsmasq: dnsmasqOf(plan),
    vxlan: vxlanOf(plan),
    linkNames: linkNamesOf(plan),
    coexist: coexistEnabled(spec),
    coexistTarget: (opts) => coexistTargetOf(spec, plan, opts),
    watchTargets: () => watchTargets(plan),
    apply: (ctx) => driver.apply(ctx, plan),
    teardown: (ctx) => driver.teardown(ctx, plan),
    problems: (ctx) => driver.problems(ctx, plan),
  }
}

/** A spec's plan (the parts every caller reads), through its kind's driver. */
export function planFor(spec: NetworkSpec, stateRoot: string = DEFAULT_STATE_ROOT): NetworkPlan {
  return kindOf(spec).plan(stateRoot).plan
}
