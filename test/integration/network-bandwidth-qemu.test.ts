/**
 * Bandwidth limits with QEMU guests (issue 22's acceptance): two guests lease addresses from kvmnet's
 * dnsmasq and carry real TCP traffic through their virtio NICs and taps. Rates are measured on the far
 * side over seconds: a download (host → guest) by the bytes the guest's TCP acknowledged (ss bytes_acked on
 * the host), an upload (guest → host) by the bytes the host received.
 *
 * QEMU runs under TCG on this machine: the limits are chosen well below what an unlimited TCG guest
 * moves (measured first, and asserted to be at least 3x the limit), so the limit and not the emulation
 * is what holds the limited guest. Measured here (two runs, 2-core machine shared with other work): the
 * unlimited guest 32-228 MB/s down, 58-150 MB/s up; the limited one 237-238 KiB/s down (256), 123-126 up
 * (128), 477-486 after the raise to 512; the floored guest 364-366 KiB/s (floor 384) beside 121-127.
 * Rates here are TCP payload acknowledged or received; HTB counts whole frames (~4.5% more with a
 * 1448-byte MSS), which is why the figures sit a little under the limits.
 */
import t, { type Test } from 'tap'
import { fileURLToPath } from 'node:url'
import { rm } from 'node:fs/promises'
import { createNetwork, validateSpec, type Network } from '../../src/index.js'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'
import { bootGuest, guestSupport, killLiveGuests, type GuestReport } from '../helpers/qemu.js'

const support = guestSupport()
const RATE = fileURLToPath(new URL('../helpers/rate.mjs', import.meta.url))
const KIB = 1024
const SINK = 5001
const SOURCE = 5002
const STOP = 5003
/** A port no guest listens on: its kernel refuses a connection there. */
const CLOSED = 5004
/** KiB/s: the limited guest's download and upload, the raised download, the network cap and the floor. */
const DOWN = 256
const UP = 128
const RAISED = 512
const CAP = 512
const FLOOR = 384
/** HTB counts whole frames: ~4.5% more than the TCP payload measured here, with a 1448-byte MSS. */
const FRAMING = 1.045

const kib = (bps: number): string => (bps / KIB).toFixed(0)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The bytes the guest `ip` has acknowledged on the host's connection to its port (ss bytes_acked). */
async function acked(host: TestNs, ip: string, port: number): Promise<number | undefined> {
  const out = await host.run('ss', ['-tinH', 'state', 'established', 'dst', `${ip}:${port}`])
  const m = out.match(/bytes_acked:(\d+)/)
  return m ? Number(m[1]) : undefined
}

/** Whether `p` has exited, as a flag to poll. */
function exitOf(p: ReturnType<TestNs['spawn']>): { done: boolean } {
  const state = { done: false }
  p.on('exit', () => (state.done = true))
  return state
}

/**
 * A download to a guest's sink: the host sends as fast as it may; rate() reads what the guest acknowledged.
 * The guest's nc listens again only after the previous connection's program ended: refused tries repeat.
 */
async function download(host: TestNs, g: Guest): Promise<{ rate(ms: number): Promise<number>; alive(): Promise<boolean>; stop(): void }> {
  const ip = g.ip
  const errors: string[] = []
  let p: ReturnType<TestNs['spawn']> | undefined
  await waitFor(
    async () => {
      p?.kill('SIGKILL')
      p = host.spawn('node', [RATE, 'send', ip, String(SINK)])
      p.stderr?.on('data', (d: Buffer) => errors.push(d.toString()))
      const ended = exitOf(p)
      // A try ends when its sender was refused (it exits), not after a fixed time that a slow Node start may outlast.
      return waitFor(async () => ((await acked(host, ip, SINK)) !== undefined ? 'connected' : ended.done ? 'refused' : false), 30000, 100).then(
        (r) => r === 'connected',
        () => false,
      )
    },
    // Long enough for a loaded machine, where each try's Node start alone took seconds (load 20).
    90000,
    500,
  ).catch(async (err: unknown) => {
    throw new Error(`no connection to ${ip}:${SINK}: ${errors.join('')}\n${await whyNot(host, g)}`, { cause: err })
  })
  return {
    async rate(ms) {
      const t0 = performance.now()
      const a = (await acked(host, ip, SINK)) ?? 0
      await sleep(ms)
      const b = (await acked(host, ip, SINK)) ?? 0
      return ((b - a) * 1000) / (performance.now() - t0)
    },
    alive: async () => (await acked(host, ip, SINK)) !== undefined,
    stop: () => void p?.kill('SIGKILL'),
  }
}

/** An upload from a guest's source, counted by the host as it receives it. */
async function upload(host: TestNs, ip: string, ms: number): Promise<number> {
  let lines: string[] = []
  let p: ReturnType<TestNs['spawn']> | undefined
  const at = (): [number, number] => (lines.at(-1)?.split(' ').map(Number) as [number, number] | undefined) ?? [0, 0]
  // Refused while the guest's nc is not listening again yet: tried again.
  await waitFor(
    async () => {
      p?.kill('SIGKILL')
      lines = []
      const mine = lines
      p = host.spawn('node', [RATE, 'recv', ip, String(SOURCE)])
      p.stdout?.on('data', (d: Buffer) => mine.push(...d.toString().split('\n').filter(Boolean)))
      const ended = exitOf(p)
      return waitFor(() => (at()[1] > 0 ? 'connected' : ended.done ? 'refused' : false), 30000, 100).then(
        (r) => r === 'connected',
        () => false,
      )
    },
    90000,
    500,
  )
  // Past the first second (TCP's slow start, the bucket's initial burst), then over `ms`.
  await waitFor(() => at()[0] >= 1000, 15000, 100)
  const [t0, b0] = at()
  await waitFor(() => at()[0] >= t0 + ms, ms + 15000, 100)
  const [t1, b1] = at()
  p?.kill('SIGKILL')
  return ((b1 - b0) * 1000) / (t1 - t0)
}

interface Guest {
  mac: string
  ip: string
  done: Promise<GuestReport>
  /** How its qemu ended (with the serial console's tail), undefined while it runs. */
  ended(): string | undefined
}

/**
 * Whether the guest at `ip` answers at all: a connection to a port it does not listen on, refused by its
 * kernel. EHOSTUNREACH means it answered no ARP. Tried for up to `ms` (a TCG guest on a loaded host may
 * take seconds to answer), each try 5 s.
 */
async function answers(host: TestNs, ip: string, ms = 30000): Promise<true | string> {
  let last = ''
  const until = Date.now() + ms
  do {
    const r = await host.try('bash', ['-c', `timeout 5 bash -c 'exec 3<>/dev/tcp/${ip}/${CLOSED}' 2>&1; true`])
    if (/refused/i.test(r.stdout)) return true
    last = r.stdout.trim() || 'no answer within 5 s'
  } while (Date.now() < until)
  return last
}

/**
 * Why a guest could not be reached, for the failure's message: whether its qemu still runs, whether its
 * kernel answers, what the host knows of its address, the ports and the qdiscs on the way.
 */
async function whyNot(host: TestNs, g: Guest): Promise<string> {
  // The links' counters and the qdiscs' before and after one more try: which hop the ARP stops at (the
  // bridge's HTB, the tap's queue, a guest that reads nothing or sends nothing back).
  const counters = async () => (await host.try('ip', ['-s', 'link', 'show'])).stdout + (await host.try('tc', ['-s', 'qdisc', 'show'])).stdout
  const before = await counters()
  const out = [`guest ${g.mac}: ${g.ended() ?? 'its qemu still runs'}`, `a closed port of ${g.ip}: ${await answers(host, g.ip, 5000)}`]
  out.push(`$ ip -s link show; tc -s qdisc show (before that try)\n${before}`, `(after it)\n${await counters()}`)
  for (const [cmd, args] of [
    ['ip', ['neigh', 'show', g.ip]],
    ['bridge', ['link']],
    ['tc', ['-s', 'class', 'show', 'dev', 'kvbr-kbq']],
    ['ss', ['-tin']],
  ] as const) {
    const r = await host.try(cmd, args)
    out.push(`$ ${cmd} ${args.join(' ')}\n${r.stdout}${r.stderr}`)
  }
  return out.join('\n')
}

/** Boots a guest on `tap` and waits for its lease and its sink; it stays up until stopGuest. */
async function guest(t: Test, net: Network, host: TestNs, tap: string, mac: string): Promise<Guest> {
  const done = bootGuest({ netnsPath: host.path, tapName: tap, mac, timeoutMs: 600_000, checks: { sink: SINK, source: SOURCE, listen: STOP, waitForPeers: 580 } })
  // A failed boot fails the test where it is awaited; this also keeps it from being unhandled meanwhile.
  let ended: string | undefined
  done.then(
    (r) => (ended = `powered off (${JSON.stringify(r.errors)}); serial tail:\n${r.serial.slice(-1500)}`),
    (err: unknown) => (ended = `qemu ended: ${err instanceof Error ? err.message : String(err)}`),
  )
  const lease = await waitFor(async () => (await net.leases()).find((l) => l.mac === mac), 240_000, 500)
  await waitFor(async () => (await host.try('node', ['-e', `require('net').connect(${SINK},'${lease.ip}').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))`])).exitCode === 0, 60_000, 500)
  t.comment(`guest ${mac} leased ${lease.ip}`)
  return { mac, ip: lease.ip, done, ended: () => ended }
}

/** A connection to the guest's listen port ends its wait: it powers off. */
async function stopGuest(host: TestNs, g: Guest): Promise<GuestReport> {
  await host.try('node', ['-e', `require('net').connect(${STOP},'${g.ip}').on('error',()=>process.exit(1))`], { timeout: 10000 })
  return g.done
}

t.test('QEMU guests: limits held within 20%, an unlimited guest faster, a live raise keeps the lease and the connection, floor under a cap, nothing left after down', { skip: support.ok ? false : support.reason }, async (t) => {
  const host = await makeNs(t, 'kb')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const macs = ['52:54:00:4b:42:10', '52:54:00:4b:42:11']
  const spec = (p0: unknown, cap?: unknown) =>
    validateSpec({
      name: 'kbq',
      mode: 'open',
      ipv4: { address: '198.51.100.1/24', dhcp: { range: ['198.51.100.50', '198.51.100.99'] } },
      ...(cap ? { bandwidth: cap } : {}),
      ports: [
        { name: 'kbq-p0', mac: macs[0], ...(p0 ? { bandwidth: p0 } : {}) },
        { name: 'kbq-p1', mac: macs[1] },
      ],
    })
  const net = createNetwork(spec({ inbound: { average: DOWN }, outbound: { average: UP } }), { netns: host.name, stateRoot })
  t.teardown(async () => {
    // After a failure the guests would wait for their peers (up to 580 s) and hold the file until the runner's timeout.
    killLiveGuests()
    await net.down().catch(() => undefined)
    await rm(stateRoot, { recursive: true, force: true })
  })
  await net.up()
  const [g0, g1] = await Promise.all([guest(t, net, host, 'kbq-p0', macs[0]!), guest(t, net, host, 'kbq-p1', macs[1]!)])

  // The unlimited guest first: what TCG moves here, the ceiling any limit must stay well under.
  let d = await download(host, g1)
  await d.rate(1500)
  const freeDown = await d.rate(4000)
  d.stop()
  const freeUp = await upload(host, g1.ip, 4000)
  t.comment(`unlimited guest (TCG): download ${kib(freeDown)} KiB/s, upload ${kib(freeUp)} KiB/s`)

  d = await download(host, g0)
  await d.rate(1500)
  const down = await d.rate(5000)
  d.stop()
  const up = await upload(host, g0.ip, 5000)
  t.comment(`limited guest: download ${kib(down)} KiB/s (average ${DOWN}), upload ${kib(up)} KiB/s (average ${UP})`)
  t.ok(Math.abs(down - DOWN * KIB) <= 0.2 * DOWN * KIB, `download within 20% of ${DOWN} KiB/s (${kib(down)})`)
  t.ok(Math.abs(up - UP * KIB) <= 0.2 * UP * KIB, `upload within 20% of ${UP} KiB/s (${kib(up)})`)
  t.ok(freeDown >= 3 * down, `the unlimited guest downloads at least 3x faster (${(freeDown / down).toFixed(1)}x)`)
  t.ok(freeUp >= 3 * up, `the unlimited guest uploads at least 3x faster (${(freeUp / up).toFixed(1)}x)`)

  // Raised while one connection runs: the same connection speeds up, the tap and the lease stay.
  const tapIndex = async () => (JSON.parse(await host.run('ip', ['-j', 'link', 'show', 'kbq-p0'])) as { ifindex: number }[])[0]?.ifindex
  const indexBefore = await tapIndex()
  d = await download(host, g0)
  await d.rate(1500)
  const before = await d.rate(3000)
  await net.up(spec({ inbound: { average: RAISED }, outbound: { average: UP } }))
  await d.rate(1000)
  const raised = await d.rate(5000)
  t.ok(await d.alive(), 'the connection opened before the up still carries data after it')
  d.stop()
  t.comment(`live raise on one connection: ${kib(before)} KiB/s before, ${kib(raised)} KiB/s after up with ${RAISED}`)
  t.ok(Math.abs(raised - RAISED * KIB) <= 0.2 * RAISED * KIB, `raised download within 20% of ${RAISED} KiB/s (${kib(raised)})`)
  t.equal(await tapIndex(), indexBefore, 'the tap is the same link')
  t.equal((await net.leases()).find((l) => l.mac === g0.mac)?.ip, g0.ip, 'the guest keeps its lease')

  // Floor: the network capped, the other guest saturating it, the floored guest still gets its floor.
  // One CI run saw the unlimited guest (last used a minute before) answer no ARP for 90 s after this up.
  // Not asked before the up: that would refresh the host's neighbour entry, which is stale here otherwise.
  await net.up(spec({ inbound: { floor: FLOOR } }, { inbound: { average: CAP } }))
  const answered = await answers(host, g1.ip)
  t.equal(answered, true, 'the unlimited guest answers right after the network is capped')
  if (answered !== true) t.comment(await whyNot(host, g1))
  const other = await download(host, g1)
  await other.rate(2000)
  const floored = await download(host, g0)
  await floored.rate(1500)
  const [f0, f1] = await Promise.all([floored.rate(5000), other.rate(5000)])
  floored.stop()
  other.stop()
  t.comment(`floor: floored guest ${kib(f0)} KiB/s (floor ${FLOOR}), other ${kib(f1)} KiB/s, network cap ${CAP}`)
  // The floor in TCP payload is FLOOR / FRAMING. On a loaded host (a busy loop beside other work, load 5-13)
  // HTB's timers fire late and both guests stay under their own rates, together short of the cap (336 + 113
  // of 512 KiB/s seen, 2 runs in 19): the floor then shows as the floored guest's share of what passed
  // (75% there, the floor's 384/512). Without a floor each would get half.
  const floorPayload = (FLOOR * KIB) / FRAMING
  const short = f0 + f1 < (0.9 * CAP * KIB) / FRAMING
  const share = f0 / (f0 + f1)
  t.ok(
    f0 >= 0.9 * floorPayload || (short && share >= 0.9 * (FLOOR / CAP)),
    `the floored guest gets its floor (${kib(f0)} KiB/s of ${kib(floorPayload)} in payload, within 10% measuring slack; ${(share * 100).toFixed(0)}% of what passed)`,
  )
  t.ok(f0 + f1 <= 1.2 * CAP * KIB, `both together stay under the cap (${kib(f0 + f1)} KiB/s)`)

  const reports = await Promise.all([stopGuest(host, g0), stopGuest(host, g1)])
  t.same(reports.map((r) => r.errors), [[], []], 'the guests report no problem')
  t.comment(`guests ran under ${reports.map((r) => r.accel).join(' and ')}`)

  await net.down()
  t.notMatch(await host.run('tc', ['qdisc', 'show']), /4b51:|ingress/, 'after down: no qdisc of kvmnet')
  for (const dev of (JSON.parse(await host.run('ip', ['-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname)) {
    t.equal((await host.run('tc', ['class', 'show', 'dev', dev])).trim(), '', `after down: no class on ${dev}`)
    t.equal((await host.try('tc', ['filter', 'show', 'dev', dev, 'ingress'])).stdout.trim(), '', `after down: no filter on ${dev}`)
  }
  t.equal((await host.run('ip', ['-j', 'link', 'show', 'type', 'ifb'])).trim(), '[]', 'after down: no IFB')
})
