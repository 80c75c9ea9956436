/**
 * SHA-256, by the native addon when it loads and by node:crypto otherwise. kvmnet hashes names, MACs,
 * rule documents and memo keys on every `up`, `down` and CNI command, and its digests are persisted
 * (link names, state), so both ways give the same bytes (test/unit/sha256.test.ts). The addon's is there
 * because the first require of node:crypto costs 3-5 ms of a fresh process (OpenSSL's set-up), more than
 * everything those processes hash; a pure-JS SHA-256 runs in V8's interpreter there, slower still. The
 * fallback keeps pure functions such as defaultBridgeName working where the addon cannot be loaded.
 */
import { createHash } from 'node:crypto'
import { loadBindingIfPossible } from '../native/index.js'

type Digest = (data: string | Uint8Array) => Buffer

let chosen: Digest | undefined

function byNodeCrypto(data: string | Uint8Array): Buffer {
  return createHash('sha256').update(data).digest()
}

function choose(): Digest {
  const b = loadBindingIfPossible()
  // An addon built before sha256 existed (a stale prebuild) has none: node:crypto then.
  const native = b?.sha256
  return native ? (data) => native(data) : byNodeCrypto
}

/** The 32-byte SHA-256 digest of `data` (a string is hashed as its UTF-8 bytes). */
export function sha256(data: string | Uint8Array): Buffer {
  chosen ??= choose()
  return chosen(data)
}

/** The same digest as 64 lowercase hex digits. */
export function sha256Hex(data: string | Uint8Array): string {
  return sha256(data).toString('hex')
}

/** Which implementation this process uses (tests, and the benchmark that compares them). */
export function sha256Implementation(): 'native' | 'node:crypto' {
  chosen ??= choose()
  return chosen === byNodeCrypto ? 'node:crypto' : 'native'
}
