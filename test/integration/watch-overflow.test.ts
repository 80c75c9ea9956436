/**
 * A notification burst that overflows the watch's netlink socket: the library user's process is stopped
 * (SIGSTOP), 40 000 unrelated address changes happen in its namespace, it is continued (SIGCONT). Its
 * receive queue overflowed (the kernel reports ENOBUFS): the process survives, treats the state as
 * unknown (a converge puts back what was lost meanwhile, here the nft table) and keeps watching.
 */
import t from 'tap'
import { execa } from 'execa'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeNs, waitFor } from '../helpers/ns.js'
import { assertNothingLeft } from '../helpers/leftovers.js'
import { root } from '../helpers/foreground.js'

/** A library user: createNetwork(spec, { watch: true }); prints its events; SIGTERM takes it down. */
const USER = `
import { createNetwork } from ${JSON.stringify(join(root, 'src/index.ts'))}
const [netns, stateRoot] = process.argv.slice(2)
const net = createNetwork(
  { name: 'kwo', mode: 'nat', ipv4: { address: '10.239.0.1/24', dhcp: { range: ['10.239.0.100', '10.239.0.150'] } }, ports: [{ name: 'kwo-p0' }] },
  { netns, stateRoot, watch: true },
)
net.on('repaired', (e) => console.log('repaired ' + e.what))
net.on('repair-failed', (e) => console.log('repair-failed ' + e.what.join(',') + ' ' + String(e.error)))
await net.up()
console.log('up')
process.once('SIGTERM', async () => {
  await net.down()
  console.log('down')
})
`

t.test('SIGSTOP, 40 000 address changes, SIGCONT: the watching process survives, resyncs and keeps watching', async (t) => {
  const host = await makeNs(t, 'kw')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-overflow-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const script = join(dir, 'user.mts')
  writeFileSync(script, USER)
  // 20 000 add/del pairs of an address on a link that is not the network's (a veth: no dummy module here).
  const batch = join(dir, 'burst.ip')
  const lines = ['link add kwo-dummy type veth peer name kwo-dummy1', 'link set kwo-dummy up']
  for (let i = 0; i < 20_000; i++) lines.push('addr add 192.0.2.1/32 dev kwo-dummy', 'addr del 192.0.2.1/32 dev kwo-dummy')
  writeFileSync(batch, `${lines.join('\n')}\n`)

  const user = execa('node', ['--import', 'tsx', script, host.name, stateRoot], { reject: false, cwd: root })
  let out = ''
  user.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  let ended = false
  void user.finally(() => (ended = true))
  t.teardown(async () => {
    if (!ended) {
      user.kill('SIGKILL')
      await user
    }
  })
  await waitFor(() => ended || out.includes('up\n'), 60_000, 20)
  t.notOk(ended, 'the network is up, watched')

  user.kill('SIGSTOP')
  await host.run('ip', ['-batch', batch], { timeout: 120_000 })
  // Lost meanwhile too: only a resync can tell.
  await host.run('nft', ['delete', 'table', 'inet', 'kvmnet_kwo'])
  user.kill('SIGCONT')

  await waitFor(() => ended || /repaired nft table kvmnet_kwo/.test(out), 30_000, 20).catch(() => false)
  t.notOk(ended, 'the process survived the overflow')
  t.match(out, /repaired nft table kvmnet_kwo/, 'the table lost during the burst is put back')
  t.comment(`the process printed:\n${out}`)

  const before = out
  await host.run('ip', ['link', 'del', 'kvbr-kwo'])
  await waitFor(() => ended || /repaired bridge kvbr-kwo/.test(out.slice(before.length)), 10_000, 20).catch(() => false)
  t.match(out.slice(before.length), /repaired bridge kvbr-kwo/, 'and it keeps watching: a later loss is repaired')

  user.kill('SIGTERM')
  const r = await user
  t.equal(r.signal, undefined, `ended by itself, not by a signal (${r.signal ?? 'none'})`)
  t.match(out, /down\n/, 'the network taken down')
  await host.run('ip', ['link', 'del', 'kwo-dummy'])
  await assertNothingLeft(t, host, 'kwo', stateRoot)
})
