/**
 * Whether a network's table is installed, asked of nf_tables over netlink (NFT_MSG_GETTABLE) instead of
 * spawning `nft list`: one request on a socket in the namespace, ~0.1 ms instead of ~20 ms, which is what
 * keeps `status` of a large network cheap.
 */
import type { NetnsRef } from '../netns/index.js'
import { RtnlSocket } from '../rtnl/index.js'
import { attrString } from '../rtnl/index.js'
import { encodeMessage } from '../rtnl/index.js'
import { NLM_F_ACK, NLM_F_REQUEST } from '../rtnl/index.js'
import { isNotFound } from '../errors.js'
import { TABLE_FAMILY, tableName } from './names.js'
import { NETLINK_NETFILTER, NFNL_SUBSYS_NFTABLES, NFPROTO, nfgenmsg } from './netlink.js'

const NFT_MSG_GETTABLE = 1
const NFTA_TABLE_NAME = 1

/** The NFT_MSG_GETTABLE request for one table (pure; unit-tested against known bytes). */
export function encodeGetTable(name: string, family: keyof typeof NFPROTO = 'inet'): Buffer {
  return encodeMessage((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE, NLM_F_REQUEST | NLM_F_ACK, [nfgenmsg(NFPROTO[family]), attrString(NFTA_TABLE_NAME, name)])
}

export async function tableExists(ns: NetnsRef | undefined, tag: string): Promise<boolean> {
  return tableNamedExists(ns, tableName(tag), TABLE_FAMILY)
}

/** Whether the table `name` of `family` is installed. */
export async function tableNamedExists(ns: NetnsRef | undefined, name: string, family: keyof typeof NFPROTO): Promise<boolean> {
  const sock = RtnlSocket.open(ns, NETLINK_NETFILTER)
  try {
    await sock.request(encodeGetTable(name, family), { op: 'NFT_MSG_GETTABLE', object: name })
    return true
  } catch (err) {
    if (isNotFound(err)) return false
    throw err
  } finally {
    sock.close()
  }
}

/** Which of `tables` ([name, family]) are installed: one socket, the requests side by side. */
export async function tablesPresent(ns: NetnsRef | undefined, tables: ReadonlyArray<readonly [string, keyof typeof NFPROTO]>): Promise<boolean[]> {
  const sock = RtnlSocket.open(ns, NETLINK_NETFILTER)
  try {
    return await tablesPresentOn(sock, tables)
  } finally {
    sock.close()
  }
}

/** tablesPresent on a netfilter socket the caller holds (and closes). */
export function tablesPresentOn(sock: RtnlSocket, tables: ReadonlyArray<readonly [string, keyof typeof NFPROTO]>): Promise<boolean[]> {
  return Promise.all(
    tables.map(([name, family]) =>
      sock.request(encodeGetTable(name, family), { op: 'NFT_MSG_GETTABLE', object: name }).then(
        () => true,
        (err: unknown) => {
          if (isNotFound(err)) return false
          throw err
        },
      ),
    ),
  )
}
