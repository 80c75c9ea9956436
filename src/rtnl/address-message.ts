/** RTM_*ADDR requests from CIDR strings, and AddressInfo from RTM_NEWADDR replies. Pure. */
import { ipaddr } from '../util/index.js'
import { attr, attrMap, attrString, attrU32, readString, readU32 } from './wire/attrs.js'
import {
  IFA_ADDRESS,
  IFA_F_NODAD,
  IFA_F_NOPREFIXROUTE,
  IFA_FLAGS,
  IFA_LABEL,
  IFA_LOCAL,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  NLM_F_REQUEST,
  RTM_DELADDR,
  RTM_GETADDR,
  RTM_NEWADDR,
} from './wire/constants.js'
import { encodeMessage } from './wire/header.js'
import { decodeIfAddrMsg, encodeIfAddrMsg, IFADDRMSG_LEN } from './wire/ifaddrmsg.js'
import { afOf, familyFromAf, ipBytes, ipString, type Family } from './wire/ip.js'

export interface AddressOptions {
  /** RT_SCOPE_* number (default: universe, 0). */
  scope?: number
  /** IPv6: skip duplicate address detection, so the address is usable at once. */
  noDad?: boolean
  /** Do not add the prefix route the kernel otherwise derives from the address. */
  noPrefixRoute?: boolean
  /** IPv4 label (must start with the interface name). */
  label?: string
}

export interface AddressInfo {
  index: number
  family: Family
  address: string
  prefixLength: number
  /** address/prefixLength, e.g. '10.0.0.1/24'. */
  cidr: string
  scope: number
  /** IFA_F_* flags (IFA_FLAGS when present, which holds the bits above 0xff). */
  flags: number
  label?: string | undefined
  /** Point-to-point peer, when IFA_ADDRESS differs from IFA_LOCAL. */
  peer?: string | undefined
}

export interface ParsedCidr {
  addr: ipaddr.IPv4 | ipaddr.IPv6
  family: Family
  prefixLength: number
}

export function parseHostCidr(cidr: string): ParsedCidr {
  const [addr, prefixLength] = ipaddr.parseCIDR(cidr)
  return { addr, family: addr.kind() === 'ipv4' ? 4 : 6, prefixLength }
}

function addrBody(index: number, c: ParsedCidr, opts: AddressOptions): Buffer[] {
  let flags = 0
  if (opts.noDad) flags |= IFA_F_NODAD
  if (opts.noPrefixRoute) flags |= IFA_F_NOPREFIXROUTE
  const ifa = encodeIfAddrMsg({ family: afOf(c.family), prefixLength: c.prefixLength, flags: flags & 0xff, scope: opts.scope ?? 0, index })
  const bytes = ipBytes(c.addr)
  // IPv4 needs IFA_LOCAL (the interface's own address); IFA_ADDRESS equal to it means "not point-to-point".
  const attrs: Buffer[] = c.family === 4 ? [attr(IFA_LOCAL, bytes), attr(IFA_ADDRESS, bytes)] : [attr(IFA_ADDRESS, bytes)]
  if (opts.label !== undefined) attrs.push(attrString(IFA_LABEL, opts.label))
  if (flags > 0) attrs.push(attrU32(IFA_FLAGS, flags))
  return [ifa, ...attrs]
}

export function encodeAddAddress(index: number, c: ParsedCidr, opts: AddressOptions = {}, replace = false): Buffer {
  const flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL)
  return encodeMessage(RTM_NEWADDR, flags, addrBody(index, c, opts))
}

export function encodeDeleteAddress(index: number, c: ParsedCidr): Buffer {
  return encodeMessage(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, addrBody(index, c, {}))
}

/** Address dump; with strict checking the kernel filters by ifa_index. */
export function encodeDumpAddresses(filter: { index?: number; family?: Family } = {}): Buffer {
  const ifa = encodeIfAddrMsg({ family: filter.family ? afOf(filter.family) : 0, index: filter.index ?? 0 })
  return encodeMessage(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, [ifa])
}

export function decodeAddress(payload: Buffer): AddressInfo | undefined {
  const ifa = decodeIfAddrMsg(payload)
  const family = familyFromAf(ifa.family)
  if (!family) return undefined
  const a = attrMap(payload, IFADDRMSG_LEN)
  const local = a.get(IFA_LOCAL)
  const addr = a.get(IFA_ADDRESS)
  const own = local ?? addr
  if (!own) return undefined
  const address = ipString(own)
  const peer = local && addr && !local.equals(addr) ? ipString(addr) : undefined
  return {
    index: ifa.index,
    family,
    address,
    prefixLength: ifa.prefixLength,
    cidr: `${address}/${ifa.prefixLength}`,
    scope: ifa.scope,
    flags: readU32(a.get(IFA_FLAGS)) ?? ifa.flags,
    label: readString(a.get(IFA_LABEL)),
    peer,
  }
}
