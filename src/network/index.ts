export { createNetwork, openNetwork, Network } from './network.js'
export type { ApplyReport, NetworkOptions, NetworkEvents, NetworkWarning, UpOptions } from './options.js'
export type { PortLease } from './leases.js'
export { mergeAddresses, type PortAddress } from './addresses.js'
export { gc } from './gc.js'
export type { GcReport } from './gc.js'
export { validateSpec, specIssues } from './validate.js'
export { specSchema, NETWORK_MODES } from './spec.js'
export type {
  NetworkSpec,
  NetworkSpecInput,
  NetworkMode,
  SpecOf,
  NatNetworkSpec,
  RoutedNetworkSpec,
  OpenNetworkSpec,
  IsolatedNetworkSpec,
  VeryIsolatedNetworkSpec,
  BridgeNetworkSpec,
  MacvtapNetworkSpec,
  PortSpec,
  TapPortSpec,
  MacvtapPortSpec,
  ForwardSpec,
  DhcpHostSpec,
  DnsHostSpec,
  NetworkVxlanSpec,
  SpecIssue,
  FirewallOptionsSpec,
} from './spec.js'
export type { NetworkPlan, PlanOf, PlannedPort, PlannedTap, PlannedMacvtap } from './plan.js'
export { networkJsonSchema } from './json-schema.js'
export type { NetworkStatus, PortStatus } from './status.js'
export type { VxlanStatus } from './steps/vxlan.js'
export type { PlannedVxlan } from './vxlan.js'
export { vxlanName, VXLAN_OVERHEAD_IPV4, VXLAN_OVERHEAD_IPV6 } from './vxlan.js'
export type { PortInfo } from './steps/ports.js'
export type { RuntimeAdditions } from './state.js'
export type { NetworkBandwidthSpec, PortBandwidthSpec } from './spec.js'
export { checkStateRoot, checkReachableBy, prepareStateRoot } from '../state-root/index.js'
export type { StepEvent, StepTiming, StepCategory, StepOutcome, StepName, StepId } from '../util/index.js'
export { stepLabel } from '../util/index.js'
export type { RepairedEvent, RepairFailedEvent } from '../watch/index.js'
export { defaultMac, defaultBridgeName, defaultLinkGroup, tapHostMac } from './names.js'
export { clearStaleLock } from './gc.js'
export { DEFAULT_STATE_ROOT, listStates, namespaceAlive, namespacePath, netnsIdentity, readState, stateDirFor, stateLabel } from './state.js'
export { otherNetworks, type OtherNetwork } from './other-states.js'
export { vxlanChanges } from './vxlan.js'
export { droppedRuntime, forwardKey, unique } from './runtime.js'
export { attachmentRole, isAttachmentOf, linkAlias, machineId, parseAlias } from './names.js'

// For kvmnet's own entry points and host integration (cli, cni, doctor), not the root export.
export * from './kinds/index.js'
export * as edits from './edits.js'
export type { NetworkState, StateListing, UnreadableState } from './state.js'
export { describeManager, handOverHint, nicManagers } from './nic-manager.js'
export { removeEmptyParents } from './state.js'
export type { HeldAdditions } from './state.js'
export { dnsHostKey } from './runtime.js'
