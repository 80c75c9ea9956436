/**
 * Self-healing: `kvmnet up --foreground` (and a Network made with `watch: true`) hears the kernel's link,
 * address and nftables notifications in the network's namespace and puts back what is lost, within a
 * second, saying what it repaired — proved with real traffic: a guest namespace that leased with busybox
 * udhcpc sends fresh UDP flows to an "outside" namespace that has no route back to the guests, so only
 * masqueraded packets are answered.
 */
import t, { type Test } from 'tap'
import { execa, type ResultPromise } from 'execa'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork, type RepairedEvent, type StepEvent } from '../../src/index.js'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'
import { dhcp } from '../helpers/guest.js'
import { addresses, link } from '../helpers/ip.js'
import { assertNothingLeft, processesIn } from '../helpers/leftovers.js'
import { scratchDir } from '../helpers/scratch.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const cliArgs = ['--import', 'tsx', join(root, 'src/cli/main.ts')]
const now = (): number => performance.timeOrigin + performance.now()
/** Only for windows in which nothing must happen (no repair, no converge): no condition marks their end. */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A host namespace whose default route leads to an outside namespace (203.0.113.2) with no route back. */
async function hostWithOutside(t: Test): Promise<{ host: TestNs; outside: TestNs }> {
  const host = await makeNs(t, 'kvwa')
  const outside = await makeNs(t, 'kvwa')
  await host.ip(
    [`link add uplink0 type veth peer name eth0 netns ${outside.name}`, 'addr add 203.0.113.1/24 dev uplink0', 'link set uplink0 up', 'route add default via 203.0.113.2'].join('\n'),
  )
  await outside.ip(['addr add 203.0.113.2/24 dev eth0', 'link set eth0 up'].join('\n'))
  return { host, outside }
}

/** A guest namespace whose eth0 is a veth on `bridge` in `host`. */
async function guestOn(t: Test, host: TestNs, bridge: string, veth: string): Promise<TestNs> {
  const guest = await makeNs(t, 'kvwa')
  await host.ip([`link add ${veth} type veth peer name eth0 netns ${guest.name}`, `link set ${veth} master ${bridge} up`].join('\n'))
  await guest.ip('link set eth0 up')
  return guest
}

const ECHO = `const s = require('dgram').createSocket('udp4')
s.on('message', (m, r) => s.send(m, r.port, r.address))
s.bind(7777, '203.0.113.2', () => console.log('listening'))`

/**
 * Every `every` ms a new socket (so a new source port, a new conntrack entry that needs the masquerade
 * rule) sends one datagram and waits 300 ms for the echo. Prints `ok ID SENT RECEIVED` or `lost ID SENT`
 * (epoch ms with fractions); stops by itself after `total` ms.
 */
const PROBE = `const dgram = require('dgram')
const [host, port, every, total] = process.argv.slice(1)
const now = () => performance.timeOrigin + performance.now()
const end = now() + Number(total)
let n = 0
const probe = () => {
  const id = n++, sent = now(), s = dgram.createSocket('udp4')
  let done = false
  const timer = setTimeout(() => { done = true; console.log('lost ' + id + ' ' + sent); s.close() }, 300)
  s.on('message', () => { if (done) return; done = true; clearTimeout(timer); console.log('ok ' + id + ' ' + sent + ' ' + now()); s.close() })
  s.on('error', () => {})
  s.send(String(id), Number(port), host)
}
const iv = setInterval(() => (now() > end ? clearInterval(iv) : probe()), Number(every))`

interface ProbeResult {
  ok: boolean
  sent: number
  received?: number
}

function startProber(guest: TestNs, durationMs: number): { results: ProbeResult[]; proc: ResultPromise } {
  const proc = guest.spawn('node', ['-e', PROBE, '203.0.113.2', '7777', '10', String(durationMs)])
  const results: ProbeResult[] = []
  let rest = ''
  proc.stdout?.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n')
    rest = lines.pop() ?? ''
    for (const l of lines) {
      const [kind, , sent, received] = l.split(' ')
      if (kind === 'ok') results.push({ ok: true, sent: Number(sent), received: Number(received) })
      else if (kind === 'lost') results.push({ ok: false, sent: Number(sent) })
    }
  })
  return { results, proc }
}

function specFile(spec: unknown): string {
  const p = join(scratchDir('kvmnet-watch-'), 'spec.json')
  writeFileSync(p, JSON.stringify(spec))
  return p
}

t.test('kvmnet up --foreground repairs a flushed ruleset, a deleted bridge, a removed address and a dead dnsmasq', async (t) => {
  const { host, outside } = await hostWithOutside(t)
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const spec = specFile({ name: 'wfg', mode: 'nat', ipv4: { address: '10.236.0.1/24', dhcp: { range: ['10.236.0.100', '10.236.0.150'] } }, ports: [{ name: 'wfg-p0' }] })
  const fg = execa('node', [...cliArgs, 'up', spec, '--foreground', '--netns', host.name, '--state-root', stateRoot], { reject: false, cwd: root })
  t.teardown(async () => {
    if (fg.exitCode === null && fg.pid !== undefined) {
      fg.kill('SIGKILL')
      await fg
    }
  })
  let stdout = ''
  fg.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
  const repairedLines = () => stdout.split('\n').filter((l) => /^wfg: repaired /.test(l))
  // Only lines printed since mark(): an earlier repair may have named the same thing.
  let seen = 0
  const mark = () => (seen = repairedLines().length)
  const repairLine = (what: RegExp) => waitFor(() => repairedLines().slice(seen).find((l) => what.test(l)), 5000, 10)
  await waitFor(() => /wfg: up in/.test(stdout), 30_000, 50)

  outside.spawn('node', ['-e', ECHO])
  const guest = await guestOn(t, host, 'kvbr-wfg', 'wfg-g0')
  const lease = await dhcp(guest)
  t.ok(lease, `the guest leases (${lease?.ip})`)

  await t.test('nft flush ruleset: guest egress back within 1 s', async (t) => {
    const { results } = startProber(guest, 6000)
    await waitFor(() => results.some((r) => r.ok), 5000, 10)
    t.pass('guest egress works (masqueraded: the outside has no route back)')
    await waitFor(() => results.filter((r) => r.ok).length >= 5, 5000, 10)
    mark()
    const flushStart = now()
    await host.run('nft', ['flush', 'ruleset'])
    const flushEnd = now()
    const line = await repairLine(/repaired nft table kvmnet_wfg in/)
    t.pass(`event: ${line}`)
    // Only flows that began after the flush count: earlier ones keep their conntrack NAT binding.
    const first = await waitFor(() => results.find((r) => r.ok && r.sent > flushEnd), 3000, 10)
    // A lost probe is known 300 ms after it was sent: once a probe sent 300 ms after the first good one has
    // an outcome, every earlier one has too.
    await waitFor(() => results.some((r) => r.sent > first.sent + 300), 3000, 10)
    const lost = results.filter((r) => !r.ok && r.sent > flushEnd && r.sent < first.sent).length
    const back = (first.received ?? 0) - flushStart
    t.ok(lost >= 1, `egress was dead after the flush (${lost} probes lost)`)
    t.ok(back < 1000, `egress back ${back.toFixed(0)} ms after \`nft flush ruleset\` began`)
    t.comment(`MEASURED: first reply to a new flow ${back.toFixed(1)} ms after the flush began (flush took ${(flushEnd - flushStart).toFixed(1)} ms, ${lost} probes of 10 ms lost)`)
    const table = await host.run('nft', ['list', 'tables'])
    t.match(table, /table inet kvmnet_wfg/)
  })

  await t.test('the bridge deleted by hand: recreated with its address, its port re-enslaved, a new guest leases', async (t) => {
    mark()
    await host.ip('link del kvbr-wfg')
    await repairLine(/repaired bridge kvbr-wfg in/)
    t.ok(await link(host, 'kvbr-wfg'), 'bridge back')
    t.ok((await addresses(host, 'kvbr-wfg')).includes('10.236.0.1/24'), 'with its address')
    await waitFor(async () => (await link(host, 'wfg-p0'))?.master === 'kvbr-wfg', 2000, 20)
    t.pass('its port re-enslaved')
    await repairLine(/repaired port wfg-p0 in/)
    const g1 = await guestOn(t, host, 'kvbr-wfg', 'wfg-g1')
    const l1 = await dhcp(g1)
    t.ok(l1, `a new guest leases (${l1?.ip})`)
  })

  await t.test('the address removed: restored', async (t) => {
    mark()
    await host.ip('addr del 10.236.0.1/24 dev kvbr-wfg')
    await repairLine(/repaired address 10\.236\.0\.1\/24 on kvbr-wfg in/)
    t.ok((await addresses(host, 'kvbr-wfg')).includes('10.236.0.1/24'), 'address back')
  })

  await t.test('dnsmasq killed: restarted, with an event', async (t) => {
    const [pid] = processesIn(host.path, 'dnsmasq')
    t.ok(pid, 'dnsmasq runs')
    mark()
    process.kill(pid ?? 0, 'SIGKILL')
    await repairLine(/repaired dnsmasq in/)
    const again = await waitFor(() => processesIn(host.path, 'dnsmasq').find((p) => p !== pid), 3000, 20)
    t.not(again, pid, `a new dnsmasq (pid ${again})`)
    const g2 = await guestOn(t, host, 'kvbr-wfg', 'wfg-g2')
    t.ok(await dhcp(g2), 'which serves leases')
  })

  await t.test('other tables and links are not its business; a quiet second has no repair', async (t) => {
    const before = repairedLines().length
    await host.run('nft', ['add', 'table', 'inet', 'foreign'])
    await host.run('nft', ['add', 'chain', 'inet', 'foreign', 'c'])
    await host.run('nft', ['delete', 'table', 'inet', 'foreign'])
    await host.ip('link add wfg-x type veth peer name wfg-y\naddr add 192.0.2.1/24 dev wfg-x\nlink set wfg-x up\naddr del 192.0.2.1/24 dev wfg-x\nlink del wfg-x')
    await sleep(1000)
    t.equal(repairedLines().length, before, 'no repair for a foreign table or link')
    const quiet = repairedLines().length
    await sleep(1000)
    t.equal(repairedLines().length - quiet, 0, 'repairs over a quiet second: 0 (no loop)')
    t.comment(`repair lines printed:\n${repairedLines().join('\n')}`)
  })

  fg.kill('SIGTERM')
  const r = await fg
  t.equal(r.exitCode, 0, 'SIGTERM ends it cleanly')
  t.match(stdout, /wfg: down \(SIGTERM\)/)
  await assertNothingLeft(t, host, 'wfg', stateRoot)
})

t.test('library: watch: true emits repaired events, keeps a non-persistent tap and its fds, stops on down', async (t) => {
  const { host } = await hostWithOutside(t)
  const net = createNetwork(
    { name: 'wlib', mode: 'nat', ipv4: { address: '10.237.0.1/24', dhcp: { range: ['10.237.0.100', '10.237.0.150'] } }, ports: [{ name: 'wlib-p0', persistent: false }] },
    { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}`, watch: true },
  )
  t.teardown(() => net.down().catch(() => undefined))
  const repaired: RepairedEvent[] = []
  const steps: StepEvent[] = []
  net.on('repaired', (e) => repaired.push(e))
  net.on('step', (e) => steps.push(e))
  await net.up()
  t.equal(net.watching, true, 'watching after up')
  const fds = [...net.portFdsOf('wlib-p0')]
  t.equal(fds.length, 1, 'the handle holds the tap fd')
  const index = (await link(host, 'wlib-p0'))?.ifindex
  steps.length = 0

  await host.run('nft', ['add', 'table', 'inet', 'foreign'])
  await host.run('nft', ['delete', 'table', 'inet', 'foreign'])
  await host.ip('link add wlib-x type veth peer name wlib-y\nlink del wlib-x')
  await sleep(500)
  t.same(steps, [], 'a foreign table and link: no converge at all')

  await host.ip('link del kvbr-wlib')
  await waitFor(() => repaired.some((e) => e.what === 'bridge kvbr-wlib'), 5000, 10)
  const bridgeEvent = repaired.find((e) => e.what === 'bridge kvbr-wlib')
  t.ok(bridgeEvent && bridgeEvent.ms < 1000, `bridge repaired in ${bridgeEvent?.ms.toFixed(1)} ms`)
  await waitFor(() => repaired.some((e) => e.what === 'port wlib-p0'), 2000, 10)
  const port = await link(host, 'wlib-p0')
  t.equal(port?.ifindex, index, 'the same tap (the non-persistent one the handle holds), not a new one')
  t.equal(port?.master, 'kvbr-wlib', 're-enslaved to the new bridge')
  t.same(net.portFdsOf('wlib-p0'), fds, 'the handle keeps its fds')
  t.match(readFileSync(`/proc/self/fdinfo/${fds[0]}`, 'utf8'), /iff:\s+wlib-p0/, 'and they are still attached to the tap')

  await host.run('nft', ['flush', 'table', 'inet', 'kvmnet_wlib'])
  await waitFor(() => repaired.some((e) => e.what === 'nft table kvmnet_wlib'), 5000, 10)
  t.pass(`nft table repaired in ${repaired.find((e) => e.what === 'nft table kvmnet_wlib')?.ms.toFixed(1)} ms`)
  t.same((await net.status()).problems, [], 'status: nothing wrong')

  const count = repaired.length
  steps.length = 0
  await sleep(1000)
  t.equal(repaired.length - count, 0, 'repairs over a quiet second: 0')
  t.same(steps, [], 'and no converge')

  await net.down()
  t.equal(net.watching, false, 'down stops watching')
  await assertNothingLeft(t, host, 'wlib')
})

t.test('library: losses that land while a repair runs, a port set down, and a hand edit of the port-filter (bridge) table are repaired', async (t) => {
  const { host } = await hostWithOutside(t)
  const net = createNetwork(
    { name: 'kwr', mode: 'nat', filtering: true, ipv4: { address: '10.238.0.1/24', dhcp: { range: ['10.238.0.100', '10.238.0.150'] } }, ports: [{ name: 'kwr-p0' }, { name: 'kwr-p1' }] },
    {
      netns: host.name,
      stateRoot: `/run/kvmnet-test/${host.name}`,
      watch: true,
      // Test hook, run before every step: while armed, the repair's last step first has the ruleset
      // flushed (synchronously, so it lands inside the repair, after its nft step).
      faultInjector: (step) => {
        if (step !== 'state' || !flushDuringRepair) return
        flushDuringRepair = false
        execFileSync('nsenter', [`--net=${host.path}`, 'nft', 'flush', 'ruleset'])
      },
    },
  )
  let flushDuringRepair = false
  t.teardown(() => net.down().catch(() => undefined))
  const repaired: RepairedEvent[] = []
  net.on('repaired', (e) => repaired.push(e))
  net.on('repair-failed', (e) => t.comment(`repair of ${e.what.join(', ')} failed (retrying: ${e.retrying}): ${String(e.error)}`))
  await net.up()
  // status names a missing address-learning table too; nft's own listing, the oracle, agrees.
  const healthy = async () => (await net.status()).problems.length === 0 && /table inet kvmnet_kwr[\s\S]*table bridge kvmnet-addr_kwr|table bridge kvmnet-addr_kwr[\s\S]*table inet kvmnet_kwr/.test(await host.run('nft', ['list', 'tables']))

  for (const gap of ['0.02', '0.03', '0.05']) {
    await t.test(`ip link del BR; sleep ${gap}; nft flush ruleset: both come back`, async (t) => {
      await host.run('sh', ['-c', `ip link del kvbr-kwr; sleep ${gap}; nft flush ruleset`])
      await waitFor(healthy, 10_000, 20).catch(() => false)
      const tables = await host.run('nft', ['list', 'tables'])
      t.match(tables, /table inet kvmnet_kwr/, 'the inet table is back')
      t.match(tables, /table bridge kvmnet_kwr/, 'the bridge table is back')
      t.match(tables, /table bridge kvmnet-addr_kwr/, 'the address-learning table is back')
      t.ok(await link(host, 'kvbr-kwr'), 'the bridge is back')
      t.same((await net.status()).problems, [], 'status: nothing wrong')
      t.ok(net.watching, 'still watching')
    })
  }

  await t.test('the ruleset flushed inside a repair (after its nft step): the table comes back', async (t) => {
    flushDuringRepair = true
    await host.ip('link del kvbr-kwr')
    await waitFor(() => !flushDuringRepair, 5000, 5)
    await waitFor(healthy, 10_000, 20).catch(() => false)
    t.match(await host.run('nft', ['list', 'tables']), /table inet kvmnet_kwr/, 'the inet table is back')
    t.same((await net.status()).problems, [], 'status: nothing wrong')
  })

  await t.test('a port set down by hand: set up again', async (t) => {
    repaired.length = 0
    await host.ip('link set kwr-p1 down')
    await waitFor(() => repaired.some((e) => e.what === 'port kwr-p1'), 5000, 10).catch(() => false)
    t.ok(repaired.some((e) => e.what === 'port kwr-p1'), 'a repaired event names the port')
    t.match((await host.run('ip', ['-o', 'link', 'show', 'kwr-p1'])).split('>')[0], /\bUP\b/, 'the port is up (administratively) again')
  })

  await t.test('the port-filter chain of the bridge table flushed by hand: refilled', async (t) => {
    repaired.length = 0
    const before = await host.run('nft', ['list', 'chain', 'bridge', 'kvmnet_kwr', 'port-filter'])
    await host.run('nft', ['flush', 'chain', 'bridge', 'kvmnet_kwr', 'port-filter'])
    await waitFor(() => repaired.some((e) => /nft table/.test(e.what)), 5000, 10).catch(() => false)
    t.ok(repaired.some((e) => e.what === 'nft table bridge kvmnet_kwr'), `repaired: ${repaired.map((e) => e.what).join(', ') || 'nothing'}`)
    t.equal(await host.run('nft', ['list', 'chain', 'bridge', 'kvmnet_kwr', 'port-filter']), before, 'the chain holds its rules again')
  })

  await t.test('the address-learning table deleted by hand: recreated', async (t) => {
    repaired.length = 0
    await host.run('nft', ['delete', 'table', 'bridge', 'kvmnet-addr_kwr'])
    await waitFor(() => repaired.some((e) => e.what === 'nft table bridge kvmnet-addr_kwr'), 5000, 10).catch(() => false)
    t.ok(repaired.some((e) => e.what === 'nft table bridge kvmnet-addr_kwr'), `repaired: ${repaired.map((e) => e.what).join(', ') || 'nothing'}`)
    t.match(await host.run('nft', ['list', 'set', 'bridge', 'kvmnet-addr_kwr', 'ports']), /kwr-p0/, 'with its ports')
  })

  await net.down()
  await assertNothingLeft(t, host, 'kwr')
})
