/**
 * After TUNSETPERSIST, `up` closes its tap fds before the taps join the bridge. A few fds are closed on the
 * event loop (a process's first use of libuv's thread pool starts its threads, which costs a one-tap `up`
 * more than the close), more are closed in parallel on the pool. Either way: no tap fd is left open, each
 * tap is persistent, enslaved, up and without carrier. A fresh process (dist/index.cjs, `env -i`) counts
 * its threads around `up` with a thread pool of 23, so a pool start shows as 23 more threads.
 */
import t from 'tap'
import { execa } from 'execa'
import { fileURLToPath } from 'node:url'
import { makeNs, type TestNs } from '../helpers/ns.js'
import { link } from '../helpers/ip.js'

const lib = fileURLToPath(new URL('../../dist/index.cjs', import.meta.url))
const PATH = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'
const POOL = 23

const child = `
const fs = require('fs')
const { createNetwork } = require(process.env.LIB)
const threads = () => fs.readdirSync('/proc/self/task').length
const tunFds = () => fs.readdirSync('/proc/self/fd').filter((fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd) === '/dev/net/tun' } catch { return false } }).length
;(async () => {
  const net = createNetwork(JSON.parse(process.env.SPEC), { netns: process.env.NS, stateRoot: process.env.STATE })
  const before = threads()
  await net.up()
  process.stdout.write(JSON.stringify({ added: threads() - before, tunFds: tunFds() }))
})().catch((err) => { process.stderr.write(String(err && err.stack)); process.exit(1) })
`

async function upInFreshProcess(ns: TestNs, spec: object, stateRoot: string): Promise<{ added: number; tunFds: number }> {
  const env = [`PATH=${PATH}`, `UV_THREADPOOL_SIZE=${POOL}`, `LIB=${lib}`, `NS=${ns.name}`, `STATE=${stateRoot}`, `SPEC=${JSON.stringify(spec)}`]
  const r = await execa('env', ['-i', ...env, 'node', '-e', child])
  return JSON.parse(r.stdout) as { added: number; tunFds: number }
}

for (const [what, count, pool] of [
  ['one tap: closed on the event loop, the thread pool never started', 1, false],
  ['six taps: closed in parallel on the thread pool', 6, true],
] as const) {
  t.test(what, async (t) => {
    const ns = await makeNs(t, 'kvytc')
    const stateRoot = `/run/kvmnet-test/${ns.name}`
    const names = Array.from({ length: count }, (_, i) => `kvyc${i}`)
    const spec = { name: 'kvyclose', mode: 'isolated', ipv4: { address: '10.238.7.1/24' }, ports: names.map((name) => ({ name })) }
    const r = await upInFreshProcess(ns, spec, stateRoot)
    t.equal(r.tunFds, 0, 'no tap fd left open in the process')
    if (pool) t.ok(r.added >= POOL, `the thread pool started (${r.added} threads more)`)
    else t.ok(r.added < POOL, `the thread pool did not start (${r.added} threads more)`)
    for (const name of names) {
      const l = await link(ns, name)
      t.equal(l?.master, 'kvbr-kvyclose', `${name}: on the bridge`)
      t.ok(l?.flags.includes('UP'), `${name}: up`)
      t.ok(l?.flags.includes('NO-CARRIER'), `${name}: without carrier (its fds closed)`)
    }
    // Persistent: still there with no process holding them, and taken down by the library.
    const { createNetwork } = await import('../../src/index.js')
    await createNetwork(spec as Parameters<typeof createNetwork>[0], { netns: ns.name, stateRoot }).down()
    t.equal(await link(ns, names[0]!), undefined, 'down removes the taps')
  })
}
