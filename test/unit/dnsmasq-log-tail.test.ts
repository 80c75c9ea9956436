/**
 * Following a detached dnsmasq's log file (LogFileTail). Every CNI command on a network adopts its dnsmasq
 * and starts following the log at its end: what dnsmasq wrote before is never read — the log grows with
 * every reload for as long as the network lives (two lines a SIGHUP, one SIGHUP an ADD or DEL).
 */
import t, { type Test } from 'tap'
import { appendFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LogFileTail } from '../../src/dnsmasq/log.js'

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
