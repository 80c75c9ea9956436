/**
 * A live network whose state file is damaged (truncated to nothing, garbage, valid JSON of the wrong shape):
 * `kvmnet gc` must not take it for dead and delete its links; `status` and `list` name it; `down` refuses
 * with a StateError naming the file. Before the fix, listStates dropped the read error and gc deleted the
 * bridge and taps of a running network.
 */
import t from 'tap'
import { execa } from 'execa'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork, gc, openNetwork, StateError } from '../../src/index.js'
import { makeNs } from '../helpers/ns.js'
import { linkNames } from '../helpers/ip.js'
import { stateFileOf } from '../helpers/leftovers.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const kvmnet = (args: string[]) => execa('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { reject: false, cwd: root, timeout: 60_000 })

const damage: [string, (good: string) => string][] = [
  ['truncated', () => ''],
  ['garbage', () => '\u0000\u0001 not json {{{'],
  ['valid JSON of the wrong shape', (good) => JSON.stringify({ ...JSON.parse(good), group: 'seven', spec: { mode: 'nat' } })],
]

for (const [what, corrupt] of damage) {
  t.test(`a live network whose state file is ${what}`, async (t) => {
    const ns = await makeNs(t, 'kvsu')
    const stateRoot = `/run/kvmnet-test/${ns.name}`
    const common = ['--netns', ns.name, '--state-root', stateRoot]
    const net = createNetwork({ name: 'keep', mode: 'very-isolated', ports: [{ name: 'keep-p0' }, { name: 'keep-p1' }] }, { netns: ns.name, stateRoot })
    await net.up()
    const file = stateFileOf(stateRoot, 'keep')
    t.ok(file, 'the network has a state file')
    const good = readFileSync(file!, 'utf8')
    t.teardown(async () => {
      writeFileSync(file!, good)
      await net.down()
    })
    const before = await linkNames(ns)
    t.ok(before.includes('keep-p0') && before.includes(net.bridge!), 'bridge and taps are there')
    writeFileSync(file!, corrupt(good))

    // gc, through the library and the CLI: nothing of the network's is deleted, and it is named.
    const report = await gc({ netns: ns.name, stateRoot })
    t.same(report.links, [], 'gc deleted no link')
    t.same(report.tables, [], 'gc removed no table')
    t.same(report.unreadable.map((u) => u.network), ['keep'], 'gc names the network it could not read')
    t.equal(report.unreadable[0]?.path, file, 'and its state file')
    const cli = await kvmnet(['gc', ...common])
    t.equal(cli.exitCode, 1, 'kvmnet gc exits 1: something needs a look')
    t.match(cli.stdout, /unreadable state, network left alone: keep/)
    t.same(await linkNames(ns), before, 'every link is still there')

    // status and list report it.
    const status = await kvmnet(['status', ...common])
    t.equal(status.exitCode, 1)
    t.match(status.stdout, /keep\s.*unreadable state/)
    const one = await kvmnet(['status', 'keep', '--json', ...common])
    t.equal(one.exitCode, 1)
    t.match(JSON.parse(one.stdout), { name: 'keep', up: false, unreadable: true })
    t.match((await kvmnet(['list', '--state-root', stateRoot])).stdout, /keep\s.*unreadable state/)

    // down refuses, naming the file; nothing is removed.
    const err = await openNetwork('keep', { netns: ns.name, stateRoot }).catch((e: unknown) => e)
    t.type(err, StateError, 'openNetwork: a StateError')
    t.equal((err as StateError).path, file, 'naming the state file')
    const down = await kvmnet(['down', 'keep', ...common])
    t.equal(down.exitCode, 1, 'kvmnet down refuses')
    t.match(down.stderr, new RegExp(`kvmnet: ${file!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
    t.same(await linkNames(ns), before, 'down removed nothing')
  })
}
