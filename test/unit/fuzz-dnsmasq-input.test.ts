/**
 * Property test of what kvmnet reads from dnsmasq: the lease file (garbage, huge, IPv6 and DUID lines)
 * and its log output (chunks of any size, long runs without a newline). Every lease parsed is one a
 * caller can use — a real address of its family, a Date that is a date — and every read is bounded.
 * Reproduce a failure: KVMNET_FUZZ_SEED=<seed from the test name> npx tap test/unit/fuzz-dnsmasq-input.test.ts
 */
import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SystemError } from '../../src/errors.js'
import { parseLeases, readLeaseFile, type Lease } from '../../src/dnsmasq/index.js'
import { DnsmasqLog } from '../../src/dnsmasq/log.js'
import { ipaddr } from '../../src/util/index.js'
import { INJECTIONS, Rng, fuzzSeed, show } from '../helpers/fuzz.js'
import { LEASE_LINES } from '../helpers/lease-lines.js'

const seed = fuzzSeed()
const ITERATIONS = Number(process.env.KVMNET_FUZZ_ITERATIONS ?? 800)

const VALID = LEASE_LINES

const TOKENS = ['0', '1', '99999999999999999999', '1e3', '-1', '4294967296', '52:54:00:aa:bb:cc', 'ff', '::', 'fd00::1', '::zz::', 'fe80::1%eth0', '999.1.1.1', '10.0.0.1', '1.2.3', '*', 'duid', 'é', '\t', '\r', '\0', 'a'.repeat(5000)]

function garbageLine(rng: Rng): string {
  const base = rng.pick(VALID).split(' ')
  switch (rng.int(5)) {
    case 0:
      return Array.from({ length: rng.int(8) }, () => rng.pick(TOKENS)).join(rng.pick([' ', '  ', '\t']))
    case 1:
      base[rng.int(base.length)] = rng.pick(TOKENS)
      return base.join(' ')
    case 2:
      return base.slice(0, rng.int(base.length + 1)).join(' ')
    case 3:
      return rng.bytes(rng.int(200)).toString('latin1')
    default:
      return base.join(' ') + rng.pick(INJECTIONS)
  }
}

/** What a caller may rely on in a parsed lease. */
function leaseProblem(l: Lease): string | undefined {
  if (l.expiresAt !== null && (!(l.expiresAt instanceof Date) || Number.isNaN(l.expiresAt.getTime()))) return 'expiresAt is no date'
  if (l.expiresAt) l.expiresAt.toISOString() // `kvmnet leases` prints it
  if (l.family === 4 && !ipaddr.IPv4.isValidFourPartDecimal(l.ip)) return `ip ${show(l.ip)} is no IPv4 address`
  if (l.family === 6 && (!ipaddr.IPv6.isValid(l.ip) || l.ip.includes('%'))) return `ip ${show(l.ip)} is no IPv6 address`
  if (l.mac !== '' && !/^[0-9a-f]{2}(:[0-9a-f]{2})+$/.test(l.mac)) return `mac ${show(l.mac)}`
  if (l.hostname !== undefined && /\s/.test(l.hostname)) return `hostname ${show(l.hostname)}`
  return undefined
}

t.test(`lease files: garbage lines are skipped, every lease parsed is usable (seed ${seed})`, async (t) => {
  const rng = new Rng(seed)
  t.equal(parseLeases(VALID.join('\n')).length, 5, 'the valid lines parse')
  let failures = 0
  for (let i = 0; i < ITERATIONS && failures < 5; i++) {
    const lines = Array.from({ length: 1 + rng.int(6) }, () => (rng.chance(0.3) ? rng.pick(VALID) : garbageLine(rng)))
    const text = lines.join(rng.pick(['\n', '\r\n']))
    const started = performance.now()
    let leases: Lease[] = []
    try {
      leases = parseLeases(text)
    } catch (err) {
      failures++
      t.fail(`iteration ${i} (seed ${seed}): threw ${String(err)} on ${show(text)}`)
      continue
    }
    if (performance.now() - started > 1000) t.fail(`iteration ${i}: slow on ${show(text)}`)
    for (const l of leases) {
      let why: string | undefined
      try {
        why = leaseProblem(l)
      } catch (err) {
        why = String(err)
      }
      if (why) {
        failures++
        t.fail(`iteration ${i} (seed ${seed}): ${why} from ${show(text)}`)
        break
      }
    }
  }
  const huge = `${VALID[0]}\n${'9 '.repeat(2_000_000)}\n${VALID[1]}`
  t.equal(parseLeases(huge).length, 2, 'a 4 MB garbage line between two leases')
})

t.test('found by this test: leases no Date or address can hold are skipped', async (t) => {
  // Each was parsed: an Invalid Date (never expired, so the lease watcher re-armed its timer with NaN, every
  // millisecond; `kvmnet leases` threw RangeError printing it), and addresses no address family has.
  t.same(parseLeases('99999999999999999999 52:54:00:aa:bb:cc 10.0.0.1 * *'), [])
  t.same(parseLeases('1 2 ::zz:: * *'), [])
  t.same(parseLeases('5 52:54:00:aa:bb:cc 999.1.1.1 * *'), [])
  t.same(parseLeases('5 7 fe80::1%eth0 * *'), [])
  t.same(parseLeases('5 1 fd00::21 vm2 00:03:00:01:52:54:00:aa:00:03"\nINJ=1'), [], 'a DUID that is no hex: its MAC was 52:54:00:aa:00:03" ')
})

t.test('a lease file that cannot be read: a SystemError, no file: no leases', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'k13fz-leases-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  t.same(await readLeaseFile(join(dir, 'none')), [])
  mkdirSync(join(dir, 'leases'))
  const err = await readLeaseFile(join(dir, 'leases')).catch((e: unknown) => e)
  t.type(err, SystemError, 'a directory in its place: typed (was the raw EISDIR)')
})

t.test(`dnsmasq's log: any chunking gives the same lines, in bounded time (seed ${seed})`, async (t) => {
  const rng = new Rng(seed + 7)
  for (let i = 0; i < 50; i++) {
    const lines = Array.from({ length: 1 + rng.int(20) }, () => (rng.chance(0.1) ? 'x'.repeat(rng.int(20000)) : `dnsmasq[${rng.int(99999)}]: ${rng.bytes(rng.int(80)).toString('base64')}`))
    const text = lines.join('\n') + '\n'
    const log = new DnsmasqLog()
    const got: string[] = []
    for (let at = 0; at < text.length; ) {
      const n = 1 + rng.int(rng.pick([3, 100, 5000]))
      got.push(...log.push(text.slice(at, at + n)))
      at += n
    }
    const want = lines.filter((l) => l.trim() !== '').map((l) => l.slice(0, 8192))
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      t.fail(`chunking ${i} (seed ${seed}) changed the lines`)
      break
    }
  }
  const log = new DnsmasqLog()
  const started = performance.now()
  const chunk = 'x'.repeat(1000)
  for (let i = 0; i < 5000; i++) log.push(chunk)
  const ms = performance.now() - started
  t.ok(ms < 5000, `5 MB without a newline in 1 KB chunks: ${Math.round(ms)} ms (was quadratic: 2 MB took 21 s)`)
  t.equal(log.recent(1)[0]?.length, 8192, 'kept cut at 8 KB')
  t.same(log.push('\nend\n'), ['x'.repeat(8192), 'end'])
})
