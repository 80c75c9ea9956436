/**
 * network/state.ts writeState: the state directory is made only when it is missing (every journal write
 * of an apply made it again, issue 21); a temporary file a killed writer of the same pid left is replaced;
 * the state file is always whole (written aside, renamed).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { isolatedState } from '../helpers/state-fixture.js'
import { readState, writeState } from '../../src/network/state.js'

const state = isolatedState

t.test('a missing directory (and its parents) is made; an existing one is written into as it is', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvs-state-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const dir = join(root, 'ns-x', 'a')
  await writeState(dir, state('a', '10.1.0.1/24'))
  t.equal(statSync(dir).mode & 0o777, 0o755, 'made 0755')
  t.match(await readState(dir), { name: 'a', spec: { ipv4: { address: '10.1.0.1/24' } } })
  await writeState(dir, state('a', '10.2.0.1/24'))
  t.match(await readState(dir), { spec: { ipv4: { address: '10.2.0.1/24' } } }, 'rewritten in place')
  t.same(readdirSync(dir), ['network.json'], 'no temporary file left')
  rmSync(join(root, 'ns-x'), { recursive: true })
  await writeState(dir, state('a', '10.3.0.1/24'))
  t.match(await readState(dir), { spec: { ipv4: { address: '10.3.0.1/24' } } }, 'made again when removed meanwhile')
})

t.test("a temporary file left at this pid's name is replaced, never written through", async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvs-state-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const dir = join(root, 'b')
  mkdirSync(dir)
  const tmp = join(dir, `.network.json.${process.pid}`)
  writeFileSync(tmp, 'half a state')
  await writeState(dir, state('b', '10.4.0.1/24'))
  t.notOk(existsSync(tmp))
  t.match(JSON.parse(readFileSync(join(dir, 'network.json'), 'utf8')), { name: 'b' })
})

t.test('a directory that cannot be made: the error of the write', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvs-state-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  writeFileSync(join(root, 'file'), '')
  await t.rejects(writeState(join(root, 'file', 'c'), state('c', '10.5.0.1/24')), { code: 'ENOTDIR' })
})
