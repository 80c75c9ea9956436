/**
 * nf_tables read once at a full apply's start (nftFirstLook: the network's tables present or not, every
 * chain of the namespace), beside the apply's first checks, for the steps that need it later: the learning
 * and rules steps (whether a first install may only add) and the coexistence check (the chains).
 */
import { nftFirstLook, type NftFirstLook } from '../nft/index.js'
import type { NetnsRef } from '../netns/index.js'

/**
 * Starts the read; the returned function gives its result, or throws its error, to each step that asks.
 * An apply that fails before any step asks does not leave the read's error unhandled.
 */
export function startNftLook(ns: NetnsRef, tag: string): () => Promise<NftFirstLook> {
  const settled = nftFirstLook(ns, tag).then(
    (look) => ({ look }),
    (error: unknown) => ({ error }),
  )
  return async () => {
    const r = await settled
    if ('error' in r) throw r.error
    return r.look
  }
}
