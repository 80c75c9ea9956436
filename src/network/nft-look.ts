/**
 * nf_tables read once at a full apply's start (nftFirstLook: the network's tables present or not, every
 * chain of the namespace), beside the apply's first checks, for the steps that need it later: the learning
 * and rules steps (whether a first install may only add) and the coexistence check (the chains).
 */
import { nftFirstLook, type NftFirstLook } from '../nft/index.js'
import type { NetnsRef } from '../netns/index.js'
import { startedEarly } from './started.js'

export function startNftLook(ns: NetnsRef, tag: string): () => Promise<NftFirstLook> {
  return startedEarly(nftFirstLook(ns, tag))
}
