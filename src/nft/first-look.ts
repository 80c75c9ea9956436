/**
 * What an apply reads from nf_tables before its first change, on one netlink socket opened and closed
 * before any of the apply's transactions: which of the network's tables are there (its inet and bridge
 * tables, its learning table in both families) and every chain of the namespace (for the coexistence
 * check). Each used to be read where it was needed: two sockets of their own for the presence checks (each
 * opened with a namespace switch, and each close waited for nf_tables' commit mutex when it came while the
 * learning table's transaction ran), and `list chains` on the libnftables thread, queued between the
 * learning table's transactions and the network's own, which every first `up` waits for.
 */
import type { NetnsRef } from '../netns/index.js'
import { RtnlSocket } from '../rtnl/index.js'
import { chainOutside, decodeChains, encodeGetChains, type NftChain } from './list-chains.js'
import { NETLINK_NETFILTER, type NFPROTO } from './netlink.js'
import { LEARN_FAMILIES, LEARN_TABLE_PREFIX, learnTableName } from './learn.js'
import { TABLE_FAMILY, TABLE_PREFIX, tableName } from './names.js'
import { tablesPresentOn } from './table-exists.js'

export interface NftFirstLook {
  /** Whether any of the network's own tables (inet and bridge) is there. */
  rulesPresent: boolean
  /** Whether its learning table is there, in either family. */
  learningPresent: boolean
  /** Every chain of the namespace outside kvmnet's own tables (all the coexistence check looks at), as listNftChains gives them. */
  chains: NftChain[]
}

/** Chains of tables that are not kvmnet's: the coexistence check skips kvmnet's own (detectFrom). Made on first use. */
let outsideKvmnet: ReturnType<typeof chainOutside> | undefined

export async function nftFirstLook(ns: NetnsRef | undefined, tag: string): Promise<NftFirstLook> {
  const tables: ReadonlyArray<readonly [string, keyof typeof NFPROTO]> = [
    [tableName(tag), TABLE_FAMILY],
    [tableName(tag), 'bridge'],
    ...LEARN_FAMILIES.map((f) => [learnTableName(tag), f] as const),
  ]
  const sock = RtnlSocket.open(ns, NETLINK_NETFILTER)
  try {
    const [present, chains] = await Promise.all([
      tablesPresentOn(sock, tables),
      sock.dump(encodeGetChains(), { op: 'NFT_MSG_GETCHAIN', keep: (outsideKvmnet ??= chainOutside([Buffer.from(TABLE_PREFIX), Buffer.from(LEARN_TABLE_PREFIX)])) }),
    ])
    return {
      rulesPresent: present.slice(0, 2).includes(true),
      learningPresent: present.slice(2).includes(true),
      chains: decodeChains(chains),
    }
  } finally {
    sock.close()
  }
}
