/**
 * network/other-states.ts: what each `up` checks its names, forwards and subnet against (the other
 * networks of its namespace) is read once per state file while the file is unchanged — a hundred ups
 * re-read ~5000 whole states (issue 21, RSS) — and afresh whenever the file changes: rewritten by
 * kvmnet (rename), edited in place (even to the same length), corrupted, removed. The applying network's
 * own file is not read at all.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { isolatedState } from '../helpers/state-fixture.js'
import { otherNetworks, type OtherNetwork } from '../../src/network/other-states.js'
import { writeState } from '../../src/network/state.js'

const stateOf = isolatedState

/** The spec's IPv4 address (every network here is isolated with one). */
const addressOf = (o: OtherNetwork | undefined): string | undefined => (o?.spec as { ipv4?: { address?: string } } | undefined)?.ipv4?.address

t.test('read once while unchanged; afresh after a rewrite, an in-place edit, corruption, removal', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvme-others-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const label = 'ns-4-4026531840'
  const dir = (n: string) => join(root, label, n)
  await writeState(dir('a'), stateOf('a', '10.1.0.1/24'))
  await writeState(dir('b'), stateOf('b', '10.2.0.1/24'))
  await writeState(dir('me'), stateOf('me', '10.3.0.1/24'))
  // Bookkeeping beside the network directories, and a stray file: neither is a network.
  writeFileSync(join(root, label, 'b.lock'), '')
  writeFileSync(join(root, label, 'sysctls.json'), '{}')
  writeFileSync(join(root, label, 'stray'), 'not a directory')

  const first = otherNetworks(root, label, 'me')
  t.same(first.map((o) => o.name).sort(), ['a', 'b'], 'the others, not the applying network, not the bookkeeping')
  t.same(first.find((o) => o.name === 'a'), { name: 'a', spec: { name: 'a', mode: 'isolated', ipv4: { address: '10.1.0.1/24' } }, netnsId: '4:4026531840' })
  t.ok(Object.isFrozen(first[0]), 'shared between applies, so frozen')
  const again = otherNetworks(root, label, 'me')
  t.ok(again.every((o) => first.includes(o)), 'unchanged files: the very same records (not read again)')

  // The applying network's own file is never read: corrupt, it changes nothing.
  writeFileSync(join(dir('me'), 'network.json'), 'not json')
  t.same(otherNetworks(root, label, 'me').map((o) => o.name).sort(), ['a', 'b'])

  await writeState(dir('a'), stateOf('a', '10.9.0.1/24'))
  const rewritten = otherNetworks(root, label, 'me').find((o) => o.name === 'a')
  t.equal(addressOf(rewritten), '10.9.0.1/24', 'rewritten by kvmnet (rename): read afresh')

  // In place, same length: only its ctime/mtime tell.
  const path = join(dir('a'), 'network.json')
  writeFileSync(path, readFileSync(path, 'utf8').replace('10.9.0.1/24', '10.8.0.1/24'))
  t.equal(addressOf(otherNetworks(root, label, 'me').find((o) => o.name === 'a')), '10.8.0.1/24', 'edited in place: read afresh')

  // Same length again, no longer a state: skipped like listStates' unreadable ones (status names them).
  writeFileSync(path, readFileSync(path, 'utf8').replace('"group": 4242', '"group": "42"'))
  t.same(otherNetworks(root, label, 'me').map((o) => o.name), ['b'], 'corrupt: no longer checked against')

  rmSync(dir('b'), { recursive: true })
  mkdirSync(dir('empty'))
  t.same(otherNetworks(root, label, 'me'), [], 'removed, and a directory without a state: nothing')
  t.same(otherNetworks(root, 'ns-no-such', 'me'), [], 'a namespace without a directory: nothing')
})
