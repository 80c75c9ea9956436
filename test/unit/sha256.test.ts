/**
 * The addon's SHA-256 (native/src/sha256.cc) gives node:crypto's digest byte for byte: kvmnet's link
 * names, MACs and state hashes are persisted, so a host upgraded onto it must derive the same ones. Block
 * edges (the padding's one- or two-block tail), large and random inputs, and strings hashed as their UTF-8
 * bytes exactly as node:crypto's update(string) encodes them (lone surrogates included).
 */
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { loadBinding } from '../../src/native/index.js'
import { sha256, sha256Hex, sha256Implementation } from '../../src/util/index.js'
import { defaultBridgeName } from '../../src/network/index.js'

const reference = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex')
const addon = loadBinding()
const nativeHex = (data: string | Uint8Array): string => {
  if (!addon.sha256) throw new Error('the addon has no sha256 (stale prebuild? npm run build:native)')
  return addon.sha256(data).toString('hex')
}

t.test('FIPS 180-4 example digests', async (t) => {
  t.equal(nativeHex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  t.equal(nativeHex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1')
  t.equal(nativeHex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
})

t.test('every length around the block and padding edges, as strings and as Buffers', async (t) => {
  let mismatches = 0
  for (let n = 0; n <= 300; n++) {
    const bytes = Buffer.alloc(n, 0x61 + (n % 26))
    if (nativeHex(bytes) !== reference(bytes)) mismatches++
    if (nativeHex(bytes.toString('latin1')) !== reference(bytes.toString('latin1'))) mismatches++
  }
  t.equal(mismatches, 0, 'lengths 0..300')
  for (const n of [55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 4095, 4096, 4097]) {
    const bytes = randomBytes(n)
    t.equal(nativeHex(bytes), reference(bytes), `${n} random bytes`)
  }
})

t.test('1 MB, random Buffers, a Uint8Array view into a larger buffer', async (t) => {
  const big = randomBytes(1 << 20)
  t.equal(nativeHex(big), reference(big), '1 MiB')
  let mismatches = 0
  for (let i = 0; i < 500; i++) {
    const b = randomBytes(i * 7 % 1000)
    if (nativeHex(b) !== reference(b)) mismatches++
  }
  t.equal(mismatches, 0, '500 random buffers')
  const view = new Uint8Array(big.buffer, big.byteOffset + 3, 200)
  t.equal(nativeHex(view), reference(view), 'an offset view hashes only its own bytes')
})

t.test('strings: UTF-8 as node:crypto encodes them', async (t) => {
  const strings = ['é', 'naïve café', '日本語のネットワーク', '\u{1F600} emoji', 'a\u0000b', '\uD800', 'x\uDC00y', '\uDBFF\uDFFF', 'é'.repeat(28), 'é'.repeat(32), '€'.repeat(21), '€'.repeat(22)]
  for (const s of strings) t.equal(nativeHex(s), reference(s), JSON.stringify(s))
  let mismatches = 0
  for (let i = 0; i < 300; i++) {
    const codes = Array.from({ length: i % 90 }, (_, j) => (i * 7919 + j * 104729) % 0x10000)
    const s = String.fromCharCode(...codes)
    if (nativeHex(s) !== reference(s)) mismatches++
  }
  t.equal(mismatches, 0, '300 strings of arbitrary UTF-16 code units')
})

t.test('the util helper uses the addon here and gives the same digests', async (t) => {
  t.equal(sha256Implementation(), 'native')
  t.equal(sha256Hex('kvmnet'), reference('kvmnet'))
  t.same(sha256(Buffer.from('kvmnet')), createHash('sha256').update('kvmnet').digest())
  // A derived name that is persisted: the same as the node:crypto derivation gave.
  t.equal(defaultBridgeName('a-network-with-a-long-name'), `kvbr-a-net${reference('a-network-with-a-long-name').slice(0, 5)}`)
})

t.test('the addon refuses what is neither a string nor bytes', async (t) => {
  t.throws(() => addon.sha256?.(42 as unknown as string), /string or a Uint8Array/)
})
