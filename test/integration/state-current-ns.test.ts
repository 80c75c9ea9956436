/**
 * A network made in the namespace kvmnet itself runs in (`ip netns exec NS kvmnet up`, or plain `kvmnet up`
 * on a host): its state must name a path to the namespace that outlives that process. It recorded
 * /proc/PID/…, so the next `kvmnet status` called the live network orphaned and `kvmnet gc` destroyed it
 * (reproduced before the fix). States written that way before are still found through the lasting paths.
 */
import t from 'tap'
import { execa } from 'execa'
import { readFileSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeNs } from '../helpers/ns.js'
import { link } from '../helpers/ip.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const main = join(root, 'src/cli/main.ts')

t.test('kvmnet up in its own namespace: status sees it up, gc leaves it alone, an old /proc path is still found', async (t) => {
  const host = await makeNs(t, 'kvx')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const spec = join(stateRoot, 'spec.json')
  await execa('mkdir', ['-p', stateRoot])
  writeFileSync(spec, JSON.stringify({ name: 'here', mode: 'isolated', ipv4: { address: '10.244.9.1/24' } }))
  const inNs = (args: string[]) => execa('ip', ['netns', 'exec', host.name, 'node', '--import', 'tsx', main, ...args, '--state-root', stateRoot], { cwd: root, reject: false })
  const outside = (args: string[]) => execa('node', ['--import', 'tsx', main, ...args, '--state-root', stateRoot], { cwd: root, reject: false })
  t.teardown(async () => {
    await outside(['down', 'here', '--netns', host.name])
    await rm(stateRoot, { recursive: true, force: true })
  })

  t.equal((await inNs(['up', spec])).exitCode, 0, 'up inside the namespace')
  const file = (await execa('find', [stateRoot, '-name', 'network.json'])).stdout.trim()
  const recorded = JSON.parse(readFileSync(file, 'utf8')) as { netnsPath: string; netnsName?: string }
  t.same([recorded.netnsPath, recorded.netnsName], [`/run/netns/${host.name}`, host.name], "the state names the namespace's lasting path, not the process's")
  t.match((await outside(['status', '--netns', host.name])).stdout, /here\s+isolated\s+up\s/, 'status from outside: up')
  t.match((await inNs(['status'])).stdout, /here\s+isolated\s+up\s/, 'status from inside: up')
  const gc = await inNs(['gc'])
  t.match(gc.stdout, /orphaned networks cleaned: none/, gc.stdout)
  t.ok(await link(host, 'kvbr-here'), 'the bridge is still there')

  // A state as kvmnet wrote it before: the path of a process long gone.
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), netnsPath: '/proc/999999999/task/999999999/ns/net', netnsName: undefined }))
  t.match((await outside(['status', '--netns', host.name])).stdout, /here\s+isolated\s+up\s/, 'an old state: still up')
  t.match((await inNs(['gc'])).stdout, /orphaned networks cleaned: none/, 'and gc still leaves it alone')
  t.ok(await link(host, 'kvbr-here'), 'the bridge is still there')
  t.equal((await outside(['down', 'here', '--netns', host.name])).exitCode, 0, 'down from outside')
  t.notOk(await link(host, 'kvbr-here'), 'down removed it')
})
