/**
 * Every nftables chain of a namespace (family, table, name, and for base chains the hook and policy),
 * listed by libnftables in process, else dumped from nf_tables over netlink (NFT_MSG_GETCHAIN), never by
 * spawning `nft -j list chains`: `up` looks for other firewalls on every apply and `doctor` on every run,
 * and a spawn of nft costs ~5–10 ms of CPU that the rest of `up` competes for. The same shape as nft's
 * JSON `chain` objects.
 */
import type { NetnsRef } from '../netns/index.js'
import { RtnlSocket, type NlReply } from '../rtnl/index.js'
import { AttrIndex, attrOffset, readString } from '../rtnl/index.js'
import { NLM_F_DUMP, NLM_F_REQUEST } from '../rtnl/index.js'
import { encodeMessage } from '../rtnl/index.js'
import { NETLINK_NETFILTER, NFNL_SUBSYS_NFTABLES, nfgenmsg, nfprotoName } from './netlink.js'
import type { NftListing } from './json.js'
import { libnftablesUnavailable } from './libnftables.js'
import { nftQuery } from './run.js'

const NFT_MSG_GETCHAIN = 4
const NFPROTO_UNSPEC = 0
const NFTA_CHAIN_TABLE = 1
const NFTA_CHAIN_NAME = 3
const NFTA_CHAIN_HOOK = 4
const NFTA_CHAIN_POLICY = 5
const NFTA_HOOK_HOOKNUM = 1
const NF_DROP = 0

export interface NftChain {
  family: string
  table: string
  name: string
  /** Base chains only: the hook's name as nft prints it. */
  hook?: string
  /** Base chains only: 'accept' or 'drop'. */
  policy?: string
}

// Hook numbers per family (NF_INET_*, NF_BR_* share them; NF_ARP_* and NF_NETDEV_* have their own).
const INET_HOOKS = ['prerouting', 'input', 'forward', 'output', 'postrouting', 'ingress']
const HOOKS: Record<string, readonly string[]> = { arp: ['input', 'output', 'forward'], netdev: ['ingress', 'egress'] }

/** The dump request for every chain of every family (pure; unit-tested against known bytes). */
export function encodeGetChains(): Buffer {
  return encodeMessage((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETCHAIN, NLM_F_REQUEST | NLM_F_DUMP, [nfgenmsg(NFPROTO_UNSPEC)])
}

/** One NFT_MSG_NEWCHAIN of the dump (payload after the nlmsghdr). */
export function decodeChain(payload: Buffer): NftChain | undefined {
  const family = nfprotoName(payload.readUInt8(0)) ?? String(payload.readUInt8(0))
  const a = new AttrIndex(payload, 4)
  const table = readString(a.get(NFTA_CHAIN_TABLE))
  const name = readString(a.get(NFTA_CHAIN_NAME))
  if (table === undefined || name === undefined) return undefined
  const chain: NftChain = { family, table, name }
  const hookAttr = a.get(NFTA_CHAIN_HOOK)
  if (hookAttr) {
    // nf_tables' attributes are big-endian.
    const num = new AttrIndex(hookAttr).get(NFTA_HOOK_HOOKNUM)
    if (num && num.length >= 4) {
      const n = num.readUInt32BE(0)
      chain.hook = (HOOKS[family] ?? INET_HOOKS)[n] ?? String(n)
    }
    const policy = a.get(NFTA_CHAIN_POLICY)
    if (policy && policy.length >= 4) chain.policy = policy.readUInt32BE(0) === NF_DROP ? 'drop' : 'accept'
  }
  return chain
}

/**
 * Whether a NFT_MSG_GETCHAIN dump entry (buf[start, end), nfgenmsg first) is of a table whose name does not
 * start with one of `prefixes`, judged in the datagram: a namespace with a hundred networks has ~600 chains
 * of kvmnet's own tables, which every apply's coexistence check used to decode and drop (27% of what
 * 100 ups allocated).
 */
export function chainOutside(prefixes: readonly Buffer[]): (buf: Buffer, start: number, end: number) => boolean {
  return (buf, start, end) => {
    const off = attrOffset(buf, NFTA_CHAIN_TABLE, start + 4, end)
    if (off < 0) return true
    const name = off + 4
    const nameEnd = off + (buf[off]! | (buf[off + 1]! << 8))
    return !prefixes.some((p) => nameEnd - name >= p.length && buf.compare(p, 0, p.length, name, name + p.length) === 0)
  }
}

/** The chains of a NFT_MSG_GETCHAIN dump (entries without a table or name skipped). */
export function decodeChains(replies: readonly NlReply[]): NftChain[] {
  return replies.flatMap((r) => {
    const c = decodeChain(r.payload)
    return c ? [c] : []
  })
}

/** The chains of a `list chains` listing (nft's JSON), in the same shape as decodeChain's. */
function chainsOfListing(doc: NftListing): NftChain[] {
  return (doc.nftables ?? []).flatMap((item) => {
    const c = item['chain'] as Record<string, unknown> | undefined
    if (typeof c?.family !== 'string' || typeof c.table !== 'string' || typeof c.name !== 'string') return []
    const chain: NftChain = { family: c.family, table: c.table, name: c.name }
    if (typeof c.hook === 'string') {
      chain.hook = c.hook
      if (typeof c.policy === 'string') chain.policy = c.policy
    }
    return [chain]
  })
}

/**
 * In process when libnftables loads: its thread keeps one nf_tables socket open. A socket of this call's
 * own is closed after the dump, and the kernel makes the close of an nf_tables socket wait for the
 * cleanup of earlier transactions (an RCU grace period: 5-300 ms measured, on the event loop, on most
 * `up`s, since the apply's own nft transaction has just replaced a table).
 */
export async function listNftChains(ns: NetnsRef | undefined): Promise<NftChain[]> {
  if (libnftablesUnavailable() === undefined) return chainsOfListing(await nftQuery(ns, ['list', 'chains'], { backend: 'libnftables' }))
  const sock = RtnlSocket.open(ns, NETLINK_NETFILTER)
  try {
    return decodeChains(await sock.dump(encodeGetChains(), { op: 'NFT_MSG_GETCHAIN' }))
  } finally {
    sock.close()
  }
}
