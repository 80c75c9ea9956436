/**
 * Following a detached dnsmasq's log file (LogFileTail). Every CNI command on a network adopts its dnsmasq
 * and starts following the log at its end: what dnsmasq wrote before is never read — the log grows with
 * every reload for as long as the network lives (two lines a SIGHUP, one SIGHUP an ADD or DEL), so it is
 * rotated when it is followed and over its limit (log-rotate.ts).
 */
import t, { type Test } from 'tap'
import { appendFileSync, closeSync, constants, existsSync, lstatSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LogFileTail } from '../../src/dnsmasq/log.js'
import { LOG_ROTATE_BYTES, rotateLogIfLarge } from '../../src/dnsmasq/log-rotate.js'

function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-logtail-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('atEnd: only what is written afterwards is read', async (t) => {
  const file = join(scratch(t), 'dnsmasq.log')
  writeFileSync(file, 'dnsmasq[1]: started\ndnsmasq[1]: read /x/dhcp-hosts\n')
  const tail = await LogFileTail.atEnd(file)
  t.equal(await tail.read(), '', 'nothing new yet')
  appendFileSync(file, 'dnsmasq[1]: read /x/addn-hosts\n')
  t.equal(await tail.read(), 'dnsmasq[1]: read /x/addn-hosts\n', 'the line written after')
  t.equal(await tail.read(), '', 'read once')
})

t.test('atEnd: a log that does not exist yet is followed from its start', async (t) => {
  const file = join(scratch(t), 'dnsmasq.log')
  const tail = await LogFileTail.atEnd(file)
  writeFileSync(file, 'dnsmasq: bad option\n')
  t.equal(await tail.read(), 'dnsmasq: bad option\n')
})

t.test('atEnd: the text already in the log is not read (a log larger than any buffer is followed too)', async (t) => {
  // Sparse: 5 GiB that take no space, more than a Buffer holds. Reading it whole fails; skipping it is instant.
  const file = join(scratch(t), 'dnsmasq.log')
  writeFileSync(file, '')
  truncateSync(file, 5 * 1024 ** 3)
  const tail = await LogFileTail.atEnd(file)
  appendFileSync(file, 'dnsmasq[1]: read /x/dhcp-hosts\n')
  t.equal(await tail.read(), 'dnsmasq[1]: read /x/dhcp-hosts\n', 'only the new line')
})

t.test('a log truncated under the tail is followed from its new start', async (t) => {
  const file = join(scratch(t), 'dnsmasq.log')
  writeFileSync(file, 'a long first line of the old log\n')
  const tail = await LogFileTail.atEnd(file)
  writeFileSync(file, 'new\n')
  t.equal(await tail.read(), 'new\n')
})

t.test('a log over the limit is rotated: its last lines kept in .1, the writer goes on at the new start', async (t) => {
  const dir = scratch(t)
  const file = join(dir, 'dnsmasq.log')
  const old = join(dir, 'dnsmasq.log.1')
  // dnsmasq's stderr: a descriptor opened O_APPEND (launch.ts), held across the rotation.
  const fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o644)
  t.teardown(() => closeSync(fd))
  const lines = Array.from({ length: 40000 }, (_, i) => `dnsmasq[7]: DHCPACK(br0) 10.0.0.${i % 250} 52:54:00:00:00:01 line ${i}\n`)
  writeSync(fd, lines.join(''))
  t.ok(statSync(file).size > LOG_ROTATE_BYTES, 'the log is over the limit')
  const tail = await LogFileTail.atEnd(file, old)
  t.equal(statSync(file).size, 0, 'the log is truncated')
  const kept = readFileSync(old, 'utf8')
  t.ok(kept.length <= LOG_ROTATE_BYTES, '.1 holds at most the limit')
  t.ok(lines.join('').endsWith(kept), '.1 holds the last lines')
  t.ok(lines.includes(kept.slice(0, kept.indexOf('\n') + 1)), '.1 starts at a line start')
  writeSync(fd, 'dnsmasq[7]: read /x/dhcp-hosts\n')
  t.equal(readFileSync(file, 'utf8'), 'dnsmasq[7]: read /x/dhcp-hosts\n', "the writer's next line is at the start (no hole)")
  t.equal(await tail.read(), 'dnsmasq[7]: read /x/dhcp-hosts\n', 'and the tail reads it')
})

t.test('a log under the limit is not rotated', async (t) => {
  const dir = scratch(t)
  const file = join(dir, 'dnsmasq.log')
  writeFileSync(file, 'dnsmasq[1]: started\n')
  const tail = await LogFileTail.atEnd(file, join(dir, 'dnsmasq.log.1'))
  t.equal(readFileSync(file, 'utf8'), 'dnsmasq[1]: started\n')
  t.notOk(existsSync(join(dir, 'dnsmasq.log.1')))
  t.equal(await tail.read(), '')
})

t.test('rotation replaces a link put at .1, never writes through it', async (t) => {
  const dir = scratch(t)
  const file = join(dir, 'dnsmasq.log')
  const victim = join(dir, 'victim')
  writeFileSync(victim, 'precious\n')
  symlinkSync(victim, join(dir, 'dnsmasq.log.1'))
  writeFileSync(file, 'x'.repeat(100) + '\n' + 'y\n'.repeat(10))
  t.equal(rotateLogIfLarge(file, join(dir, 'dnsmasq.log.1'), 64), true)
  t.equal(readFileSync(victim, 'utf8'), 'precious\n', "the link's target is untouched")
  t.notOk(lstatSync(join(dir, 'dnsmasq.log.1')).isSymbolicLink(), '.1 is a file of its own')
  t.equal(readFileSync(join(dir, 'dnsmasq.log.1'), 'utf8'), 'y\n'.repeat(10), 'the cut line is dropped')
})
