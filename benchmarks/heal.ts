/**
 * The self-healing gap: how long after `nft flush ruleset` in the network's namespace a new TCP connection
 * through a port forward succeeds again, with the network held by `kvmnet up --foreground` (the built CLI:
 * its watch hears the flush and re-applies the table). A client in a "LAN" namespace (198.51.100.0/24)
 * opens a fresh connection to the host's address, port 8080, every millisecond or so; the forward's DNAT
 * takes it to a TCP server in a guest namespace on the bridge. Without the rules the host answers the SYN
 * with a reset at once, so the first refused connection marks the flush and the first accepted one after
 * it the end of the gap, both to within the probe's period (the `nft` process's own start-up, before its
 * flush, is not counted). Each round: flush, wait for the first accepted connection after the first
 * refused one, settle.
 * The baseline is one such connection with the rules in place (the probe's own cost).
 */
import { execa, type ResultPromise } from 'execa'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Netns } from '../src/index.js'
import { median, type BenchRow } from './stats.js'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const now = (): number => performance.timeOrigin + performance.now()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// A client that resets its side at once is no error of the server's: without a handler it would end it.
const SERVER = `require('net').createServer((s) => { s.on('error', () => {}); s.end() }).listen(80, '10.254.0.2', () => console.log('listening'))`

/**
 * One connection after another, each a new socket, ~1 ms apart: `ok SENT MS` for an accepted one (epoch
 * ms when its connect began; how long the connect took), `no SENT CODE` for a refused one. Each from a
 * source port not used for ~50 s, so that no new connection shares its tuple (and so a conntrack entry
 * made without the NAT rules) with one refused during the gap: a flow new to conntrack, not only to the client.
 */
const PROBE = `const net = require('net')
const now = () => performance.timeOrigin + performance.now()
let port = 10000
const once = () => {
  const sent = now()
  port = port >= 60000 ? 10000 : port + 1
  const s = net.connect({ host: '198.51.100.1', port: 8080, localPort: port })
  let done = false
  const next = () => { if (done) return; done = true; s.destroy(); setTimeout(once, 1) }
  s.setTimeout(200, next)
  s.on('connect', () => { console.log('ok ' + sent + ' ' + (now() - sent)); next() })
  s.on('error', (e) => { if (!done) console.log('no ' + sent + ' ' + e.code); next() })
  s.on('close', next)
}
once()`

async function inNs(ns: Netns, cmd: string, args: string[]): Promise<void> {
  await execa('nsenter', [`--net=${ns.path}`, '--', cmd, ...args])
}

export async function runHealBench(opts: { quick: boolean }): Promise<BenchRow[]> {
  const rounds = opts.quick ? 3 : 15
  const dir = await mkdtemp(join(tmpdir(), 'kvmnet-bench-heal-'))
  const made: Netns[] = []
  const procs: ResultPromise[] = []
  const stateRoot = join(dir, 'state')
  try {
    const host = await Netns.create({ prefix: 'kvbhh' })
    made.push(host)
    const lan = await Netns.create({ prefix: 'kvbhl' })
    made.push(lan)
    const guest = await Netns.create({ prefix: 'kvbhg' })
    made.push(guest)
    await execa('ip', ['-n', host.name!, '-batch', '-'], {
      input: [`link add uplink0 type veth peer name eth0 netns ${lan.name!}`, 'addr add 198.51.100.1/24 dev uplink0', 'link set uplink0 up', 'route add default via 198.51.100.2'].join('\n'),
    })
    await execa('ip', ['-n', lan.name!, '-batch', '-'], { input: ['addr add 198.51.100.2/24 dev eth0', 'link set eth0 up', 'link set lo up'].join('\n') })
    const spec = {
      name: 'heal',
      mode: 'nat',
      bridge: 'kvbr-heal',
      ipv4: { address: '10.254.0.1/24' },
      dns: { enabled: false },
      forwards: [{ proto: 'tcp', hostPort: 8080, guest: '10.254.0.2', guestPort: 80 }],
    }
    const specPath = join(dir, 'heal.json')
    await writeFile(specPath, JSON.stringify(spec))
    const fg = execa('node', [cli, 'up', specPath, '--foreground', '--json', '--netns', host.path, '--state-root', stateRoot], { reject: false })
    procs.push(fg)
    const repairs: number[] = []
    let upDone = false
    // --json: the up's report (an indented object; its last line is a lone `}`), then one line per repair.
    createInterface({ input: fg.stdout! }).on('line', (l) => {
      if (l === '}') upDone = true
      const m = /^\{"event":"repaired".*"ms":([\d.]+)/.exec(l)
      if (m) repairs.push(Number(m[1]))
    })
    for (let i = 0; !upDone; i++) {
      if (fg.exitCode !== undefined && fg.exitCode !== null) throw new Error(`kvmnet up --foreground ended: ${(await fg).stderr}`)
      if (i > 3000) throw new Error('kvmnet up --foreground did not report the network up within 30 s')
      await sleep(10)
    }
    await execa('ip', ['-n', host.name!, 'link', 'add', 'healg0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', guest.name!])
    await execa('ip', ['-n', host.name!, 'link', 'set', 'healg0', 'master', 'kvbr-heal', 'up'])
    await execa('ip', ['-n', guest.name!, '-batch', '-'], { input: ['addr add 10.254.0.2/24 dev eth0', 'link set eth0 up', 'link set lo up', 'route add default via 10.254.0.1'].join('\n') })
    const server = execa('nsenter', [`--net=${guest.path}`, '--', 'node', '-e', SERVER], { reject: false })
    procs.push(server)
    await new Promise<void>((res) => createInterface({ input: server.stdout! }).once('line', () => res()))
    const probe = execa('nsenter', [`--net=${lan.path}`, '--', 'node', '-e', PROBE], { reject: false })
    procs.push(probe)
    const oks: { sent: number; ms: number }[] = []
    const refused: number[] = []
    const codes = new Map<string, number>()
    createInterface({ input: probe.stdout! }).on('line', (l) => {
      const [w, sent, third = ''] = l.split(' ')
      if (w === 'ok') oks.push({ sent: Number(sent), ms: Number(third) })
      if (w === 'no') refused.push(Number(sent)), codes.set(third, (codes.get(third) ?? 0) + 1)
    })
    const waitFor = async <T>(what: string, f: () => T | undefined): Promise<T> => {
      for (let i = 0; i < 1000; i++) {
        const hit = f()
        if (hit !== undefined) return hit
        await sleep(2)
      }
      throw new Error(`${what} within 2 s (${oks.length} accepted, ${refused.length} refused so far; kvmnet said: ${fgErr.trim() || 'nothing'})`)
    }
    let fgErr = ''
    fg.stderr?.on('data', (d: Buffer) => (fgErr += d.toString()))
    const waitOk = (after: number) => waitFor('no connection through the forward', () => oks.find((o) => o.sent > after))
    await waitOk(0)
    const gaps: number[] = []
    // Rounds in which no attempt was refused at all: the table was back before the probe's next attempt
    // (one every ~2 ms), so the gap was shorter than the probe can see; counted as 0.
    let unseen = 0
    for (let r = 0; r < rounds; r++) {
      await sleep(300)
      const before = repairs.length
      const t0 = now()
      await inNs(host, 'nft', ['flush', 'ruleset'])
      const lost = await waitFor('no connection refused after the flush', () => refused.find((x) => x > t0)).catch(async (err: unknown) => {
        // Refused or not, the flush must have been repaired: its `repaired` line says so.
        for (let i = 0; i < 500 && repairs.length === before; i++) await sleep(4)
        if (repairs.length === before) throw err
        return undefined
      })
      if (lost === undefined) {
        unseen++
        gaps.push(0)
        continue
      }
      const first = await waitOk(lost).catch(async (err: unknown) => {
        const tables = (await execa('nsenter', [`--net=${host.path}`, '--', 'nft', 'list', 'tables'])).stdout.replace(/\n/g, ', ')
        const since = refused.filter((x) => x > lost).length
        throw new Error(`round ${r}, repairs ${before} -> ${repairs.length}: ${String(err)}; ${since} refused since the flush (${JSON.stringify([...codes])}); tables now: ${tables || 'none'}`)
      })
      gaps.push(first.sent + first.ms - lost)
      // The repair is reported after the table is back; wait for it so rounds do not overlap.
      for (let i = 0; i < 500 && repairs.length === before; i++) await sleep(4)
    }
    const connect = median(oks.map((o) => o.ms))
    const gap = median(gaps)
    const repair = repairs.length ? median(repairs) : NaN
    return [
      { name: `self-healing: new flow through a forward after \`nft flush ruleset\` (up --foreground)${unseen ? `; in ${unseen} of ${rounds} rounds no attempt was refused (counted 0 ms)` : ''}`, n: rounds, kvmnetMs: gap, baselineMs: connect, baseline: 'one new connection with the rules in place', ratio: gap / connect, goal: '<= 50 ms' },
      { name: 'self-healing: the watch\'s repair of the table (its own `repaired … in` figure)', n: repairs.length, kvmnetMs: repair, baselineMs: gap, baseline: 'the gap above', ratio: repair / gap },
    ]
  } finally {
    for (const p of procs.reverse()) {
      p.kill('SIGTERM')
      await p
    }
    for (const n of made) await n.delete().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  }
}
