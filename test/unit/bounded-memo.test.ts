/**
 * The memo that spares each `up` re-checking and re-planning every other network of its namespace
 * (issue 21: that was O(n²) over a hundred ups): bounded, keyed by a digest of the whole source text, and
 * readState still refuses a state file edited after it was read once.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { StateError } from '../../src/errors.js'
import { readState, writeState, type NetworkState } from '../../src/network/state.js'
import { BoundedMemo } from '../../src/util/index.js'

t.test('at most `limit` entries; the oldest written goes first; a rewrite makes an entry young', async (t) => {
  const m = new BoundedMemo<number>(3)
  for (const k of ['a', 'b', 'c']) m.set(k, k.charCodeAt(0))
  m.set('a', 1)
  m.set('d', 4)
  t.equal(m.size, 3)
  t.equal(m.get('b'), undefined, 'the oldest went')
  t.same([m.get('a'), m.get('c'), m.get('d')], [1, 99, 4])
  let made = 0
  t.equal(m.through('e', () => ++made * 10), 10)
  t.equal(m.through('e', () => ++made * 10), 10, 'remembered: not made again')
  t.equal(made, 1)
  t.equal(m.size, 3, 'still bounded')
  t.throws(() => new BoundedMemo(0), RangeError)
})

t.test('keys are digests of the whole text: one byte apart is another key', async (t) => {
  const a = BoundedMemo.keyOf('{"name":"a"}')
  t.equal(BoundedMemo.keyOf('{"name":"a"}'), a)
  t.not(BoundedMemo.keyOf('{"name":"b"}'), a)
  t.ok(a.length < 50, 'the text itself is not kept')
})

t.test('readState: a state read (and checked) once, then corrupted in place, is refused', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvhr-state-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const dir = join(root, 'memo') // a state lives in its network's directory (readState checks it)
  const state: NetworkState = {
    version: 1,
    name: 'memo',
    spec: { name: 'memo', mode: 'isolated', ipv4: { address: '10.9.0.1/24' } },
    bridge: 'kvbr-memo',
    group: 4242,
    netnsId: '4026531840',
    netnsPath: '/proc/1/ns/net',
    createdAt: new Date(0).toISOString(),
  } as NetworkState
  await writeState(dir, state)
  t.match(await readState(dir), { name: 'memo', group: 4242 })
  t.match(await readState(dir), { name: 'memo', group: 4242 }, 'again, from the memo: still a fresh object')
  const first = await readState(dir)
  first!.group = 1
  t.equal((await readState(dir))!.group, 4242, 'what a caller changes is its own copy')
  // Same length, still JSON, no longer a state: the group is a string.
  const text = readFileSync(join(dir, 'network.json'), 'utf8')
  writeFileSync(join(dir, 'network.json'), text.replace('"group": 4242', '"group": "42"'))
  const err = await readState(dir).catch((e: unknown) => e)
  t.type(err, StateError, 'checked afresh')
})
