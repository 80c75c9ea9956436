/**
 * The network spec: the JSON a user writes (CLI) or the object an orchestrator passes (API). One schema,
 * discriminated on `mode`, is the single source of truth for the TypeScript type, the validation of
 * shapes and the published JSON Schema: a field that belongs to one kind exists only on that kind, so
 * `{ mode: 'bridge' }` without `interface`, or `forwards` on an isolated network, fail to compile and fail
 * validation alike. The checks that relate fields to each other live with each kind's driver
 * (kinds/*.ts); `validateSpec` runs both, before anything is touched, and every error names the field as
 * the user wrote it. The schema itself is in spec-schema.ts, defined on first use; its types are named here.
 */
import { SpecError } from '../errors.js'
import { fieldPath, s, type DiscriminatedSchema, type Infer, type Issue } from '../schema/index.js'
import { defineSpecSchemas } from './spec-schema.js'

type SpecSchemas = ReturnType<typeof defineSpecSchemas>
let schemas: SpecSchemas | undefined
/** The spec's schemas, defined by the first caller (see spec-schema.ts for why not at load). */
function specSchemas(): SpecSchemas {
  return (schemas ??= defineSpecSchemas())
}

/** The spec's schema: its variants are defined on first use (a check, the JSON Schema, `variants` read). */
export const specSchema: DiscriminatedSchema<'mode', SpecSchemas['variants']> = s.discriminated('mode', () => specSchemas().variants).describe('A kvmnet network')

export type NetworkSpec = Infer<typeof specSchema>
/** What callers pass: the same type (validation transforms nothing). */
export type NetworkSpecInput = NetworkSpec
export type NetworkMode = NetworkSpec['mode']
export type SpecOf<M extends NetworkMode> = Extract<NetworkSpec, { mode: M }>
export type NatNetworkSpec = SpecOf<'nat'>
export type RoutedNetworkSpec = SpecOf<'routed'>
export type OpenNetworkSpec = SpecOf<'open'>
export type IsolatedNetworkSpec = SpecOf<'isolated'>
export type VeryIsolatedNetworkSpec = SpecOf<'very-isolated'>
export type BridgeNetworkSpec = SpecOf<'bridge'>
export type MacvtapNetworkSpec = SpecOf<'macvtap'>
export type TapPortSpec = Infer<SpecSchemas['tapPortSchema']>
export type MacvtapPortSpec = Infer<SpecSchemas['macvtapPortSchema']>
export type PortSpec = TapPortSpec | MacvtapPortSpec
export type ForwardSpec = Infer<SpecSchemas['forwardSchema']>
export type DhcpHostSpec = Infer<SpecSchemas['dhcpHostSchema']>
export type DnsHostSpec = Infer<SpecSchemas['dnsHostSchema']>
export type Dhcp6HostSpec = Infer<SpecSchemas['dhcp6HostSchema']>
export type Dhcp6Spec = Infer<SpecSchemas['dhcp6Schema']>
export type DnsSpec = NonNullable<NatNetworkSpec['dns']>
export type Dhcp4Spec = Infer<SpecSchemas['dhcp4Schema']>
export type DhcpRange4Spec = Infer<SpecSchemas['dhcpRange4Schema']>
export type DhcpRange6Spec = Infer<SpecSchemas['dhcpRange6Schema']>
export type Ipv4ExtraSpec = Infer<SpecSchemas['ipv4ExtraSchema']>
export type Ipv6ExtraSpec = Infer<SpecSchemas['ipv6ExtraSchema']>
export type DnsSrvSpec = Infer<SpecSchemas['dnsSrvSchema']>
export type DnsTxtSpec = Infer<SpecSchemas['dnsTxtSchema']>
export type DnsForwarderSpec = string | Infer<SpecSchemas['dnsForwarderSchema']>
export type NetworkVxlanSpec = Infer<SpecSchemas['vxlanSchema']>
export type PortBandwidthSpec = Infer<SpecSchemas['portBandwidthSchema']>
export type NetworkBandwidthSpec = Infer<SpecSchemas['networkBandwidthSchema']>
export type FirewallOptionsSpec = NonNullable<Infer<SpecSchemas['firewallOptionsSchema']>>

/**
 * Every mode, in the schema's order, without defining the schema: the object lists each mode once (the
 * compiler refuses a missing or unknown one); a unit test compares it with the schema's variants.
 */
export const NETWORK_MODES: readonly NetworkMode[] = Object.keys({
  nat: 0,
  routed: 0,
  open: 0,
  isolated: 0,
  'very-isolated': 0,
  bridge: 0,
  macvtap: 0,
} satisfies Record<NetworkMode, 0>) as NetworkMode[]

/** A problem with a field, named as the user wrote it (`ports[2].name`). */
export interface SpecIssue {
  field: string
  reason: string
}

/** Collects relational problems; drivers call `bad(field, reason)`. */
export type IssueSink = (field: string, reason: string) => void

/** The shapes only: the schema's verdict, as SpecIssues. */
export function shapeIssues(input: unknown): SpecIssue[] {
  const issues: Issue[] = []
  specSchema.check(input, [], issues)
  return issues.map((i) => ({ field: fieldPath(i.path), reason: i.message }))
}

export function throwIssues(issues: readonly SpecIssue[]): void {
  const first = issues[0]
  if (first) throw new SpecError(first.field, first.reason, [...issues])
}
