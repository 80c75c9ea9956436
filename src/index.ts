/**
 * kvmnet: virtual networks for KVM/QEMU guests built directly on the Linux kernel.
 * Public API — re-exports only, each named: what users need (the README's API), nothing a folder keeps
 * for its siblings. The Buffer-level pieces are in kvmnet/wire (wire.ts).
 */
export * from './errors.js'
export { NETNS_DIR, Netns, netnsPath, nsCommand, nsLabel, validateNetnsName } from './netns/index.js'
export type { NetnsCreateOptions, NetnsRef } from './netns/index.js'
export { ALL_ZEROS_MAC, LINK_KINDS, Rtnl, badLinkName, parseRouteSpec, readBridgeNfCallIptables, readSysctl, setAcceptRa, setBridgeNfCallIptables, setIpForward, setProxyArp, setRouteLocalnet, sysctlKeys, sysctlPath, tapDevicePath, validateLinkChange, validateLinkSpec, writeSysctl } from './rtnl/index.js'
export type { AddLinkOptions, AddrGenMode, AddressInfo, AddressOptions, BridgeData, BridgeSpec, ClassInfo, Family, FdbEntry, FdbFilter, FdbSpec, FilterInfo, HtbClassSpec, IfbSpec, LinkChange, LinkCommon, LinkFilter, LinkInfo, LinkKind, LinkRef, LinkSpec, MacvlanData, MacvlanMode, MacvlanSpec, OperState, QdiscInfo, QdiscSpec, RouteFilter, RouteInfo, RouteScope, RouteSpec, RouteType, RtnlSocketOptions, TapSpec, TunData, U32FilterSpec, U32Match, VethSpec, VxlanData, VxlanSpec } from './rtnl/index.js'
export { MAX_TAP_QUEUES, createTap, createTaps, normalizeTapOptions } from './tap/index.js'
export type { TapHandle, TapOptions } from './tap/index.js'
export { LEARN_TABLE_PREFIX, learnTableName, Nft, NftError, TABLE_PREFIX, checkRules, renderLearning, libnftablesUnavailable, onNftFallback, parseInstalled, renderRemove, renderRules, renderRulesMany, requiredSysctls, rulesDrift, tableExists, tableName, tagOfTable } from './nft/index.js'
export type { AddressLearning, Expr, HostServices, LearnedAddress, InstalledChain, InstalledNetworkRules, ListedRule, NetworkRules, NftCommand, NftDocument, NftFallbackWarning, NftListing, NftObject, NftRunOptions, PortFilter, PortForward, RequiredSysctl, RulesDrift, Stmt } from './nft/index.js'
export { DEFAULT_BACKOFF, DEFAULT_LEASE_TIME, Dnsmasq, LeaseWatcher, defaultStateDir, dnsmasqPaths, parseLeases, readLeaseFile, renderConfig, restartDelay, validateDnsmasqSpec } from './dnsmasq/index.js'
export type { BackoffPolicy, DhcpReservation, DnsmasqDhcpSpec, DnsmasqDnsSpec, DnsmasqEvents, DnsmasqOptions, DnsmasqPaths, DnsmasqSpec, ExitInfo, Lease, LeaseTime, ReadyInfo, RenderOptions, RenderedConfig, RestartInfo } from './dnsmasq/index.js'
export { NETWORK_MODES, Network, VXLAN_OVERHEAD_IPV4, VXLAN_OVERHEAD_IPV6, createNetwork, defaultBridgeName, defaultLinkGroup, defaultMac, gc, networkJsonSchema, openNetwork, specIssues, specSchema, stepLabel, tapHostMac, validateSpec, vxlanName } from './network/index.js'
export type { ApplyReport, BridgeNetworkSpec, DhcpHostSpec, DnsHostSpec, FirewallOptionsSpec, ForwardSpec, GcReport, IsolatedNetworkSpec, MacvtapNetworkSpec, MacvtapPortSpec, NatNetworkSpec, NetworkBandwidthSpec, NetworkEvents, NetworkMode, NetworkOptions, NetworkPlan, NetworkSpec, NetworkSpecInput, NetworkStatus, NetworkVxlanSpec, NetworkWarning, OpenNetworkSpec, PlanOf, PlannedMacvtap, PlannedPort, PlannedTap, PlannedVxlan, PortBandwidthSpec, PortAddress, PortInfo, PortLease, PortSpec, PortStatus, RepairFailedEvent, RepairedEvent, RoutedNetworkSpec, RuntimeAdditions, SpecIssue, SpecOf, StepCategory, StepEvent, StepId, StepName, StepOutcome, StepTiming, TapPortSpec, UpOptions, VeryIsolatedNetworkSpec, VxlanStatus } from './network/index.js'
export { TESTED_VERSIONS, doctor, hostChecks } from './doctor/index.js'
export { LibvirtImportError, fromLibvirtXml } from './libvirt/index.js'
export type { LibvirtImport, LibvirtImportOptions } from './libvirt/index.js'
export { libvirtInterfaceXml } from './libvirt-host/index.js'
export type { LibvirtPort } from './libvirt-host/index.js'
export type { DoctorOptions, DoctorReport, Finding, FindingCode, HostCheck } from './doctor/index.js'
export type { CoexistRecord, CoexistWarning } from './coexist/index.js'
