/**
 * The driver of each kind, by mode. Adding a kind is a module here and a variant in spec.ts.
 */
import type { NetworkDriver } from '../driver.js'
import type { NetworkMode, NetworkSpec, SpecOf } from '../spec.js'
import type { NetworkPlan, PlanOf, WantedSysctl } from '../plan.js'
import { linkAlias, rootTag } from '../names.js'
import { DEFAULT_STATE_ROOT } from '../state.js'
import { bridgeDriver } from './bridge.js'
import { isolatedDriver } from './isolated.js'
import { macvtapDriver } from './macvtap.js'
import { natDriver } from './nat.js'
import { openDriver } from './open.js'
import { routedDriver } from './routed.js'
import { veryIsolatedDriver } from './very-isolated.js'

const drivers: { [M in NetworkMode]: NetworkDriver<M> } = {
  nat: natDriver,
  routed: routedDriver,
  open: openDriver,
  isolated: isolatedDriver,
  'very-isolated': veryIsolatedDriver,
  bridge: bridgeDriver,
  macvtap: macvtapDriver,
}

export function driverFor<M extends NetworkMode>(mode: M): NetworkDriver<M> {
  return drivers[mode]
}

/**
 * A spec's plan, through its kind's driver. `stateRoot` names the owner: its tag is in every link alias,
 * so networks of different state roots never take each other's links for their own.
 */
export function planFor<S extends NetworkSpec>(spec: S, stateRoot: string = DEFAULT_STATE_ROOT): PlanOf<S['mode']> {
  const plan = (driverFor(spec.mode) as unknown as NetworkDriver<S['mode']>).plan(spec as unknown as SpecOf<S['mode']>)
  const tag = rootTag(stateRoot)
  return {
    ...plan,
    alias: {
      bridge: linkAlias(spec.name, 'bridge', tag),
      port: linkAlias(spec.name, 'port', tag),
      host: linkAlias(spec.name, 'host', tag),
      vxlan: linkAlias(spec.name, 'vxlan', tag),
      ifb: linkAlias(spec.name, 'ifb', tag),
    },
  }
}

/** The sysctls a spec's network needs (for restoring: does another network still need a key?). */
export function sysctlsOfSpec(spec: NetworkSpec): WantedSysctl[] {
  return (planFor(spec) as NetworkPlan).sysctls
}
