/**
 * TUN/TAP devices in throwaway namespaces, checked with iproute2 and with an unprivileged process that
 * attaches the way QEMU's bridge helper or a user-run QEMU would.
 */
import t from 'tap'
import { execa } from 'execa'
import { BatchItemError } from '../../src/native/index.js'
import { native } from '../../src/native/index.js'
import { SpecError, SystemError } from '../../src/errors.js'
import { createTap, createTaps, type TapOptions } from '../../src/tap/index.js'
import { makeNs, uniqueName, type TestNs } from '../helpers/ns.js'
import { catchErr } from '../helpers/catch.js'

interface TunInfo {
  type: string
  pi: boolean
  vnet_hdr: boolean
  multi_queue: boolean
  persist: boolean
  numqueues?: number
  user?: string | number
  group?: string | number
}

async function links(ns: TestNs): Promise<string[]> {
  const { stdout } = await execa('ip', ['-n', ns.name, '-j', 'link', 'show'])
  return (JSON.parse(stdout) as Array<{ ifname: string }>).map((l) => l.ifname).sort()
}

async function tunInfo(ns: TestNs, dev: string): Promise<TunInfo> {
  const { stdout } = await execa('ip', ['-n', ns.name, '-d', '-j', 'link', 'show', 'dev', dev])
  const [link] = JSON.parse(stdout) as Array<{ linkinfo: { info_kind: string; info_data: TunInfo } }>
  if (link?.linkinfo.info_kind !== 'tun') throw new Error(`${dev} is not a tun device`)
  return link.linkinfo.info_data
}

// Opens /dev/net/tun and attaches to `name` as the unprivileged user uid:gid, inside the namespace.
// 0x400454ca is TUNSETIFF; flags IFF_TAP|IFF_NO_PI; struct ifreq is 40 bytes.
const ATTACH = `
import fcntl, os, struct, sys
fd = os.open('/dev/net/tun', os.O_RDWR)
try:
    fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH22x', sys.argv[1].encode(), 0x0002 | 0x1000))
    print('attached')
except OSError as e:
    print(os.strerror(e.errno)); sys.exit(3)
`
async function attachAs(ns: TestNs, uid: number, gid: number, dev: string): Promise<{ exitCode: number; stdout: string }> {
  return ns.try('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '/usr/bin/python3', '-c', ATTACH, dev])
}


t.test('a plain tap: created in the namespace, not on the host, gone on close', async (t) => {
  const ns = await makeNs(t, 'kva')
  const tap = createTap(ns, { name: 'kvat0' })
  t.teardown(() => tap.close())
  t.equal(tap.name, 'kvat0')
  t.equal(tap.fds.length, 1)
  t.equal(tap.persistent, false)
  t.same(await links(ns), ['kvat0', 'lo'])
  const info = await tunInfo(ns, 'kvat0')
  t.match(info, { type: 'tap', pi: false, vnet_hdr: false, multi_queue: false, persist: false })
  t.equal((await execa('ip', ['link', 'show', 'dev', 'kvat0'], { reject: false })).exitCode !== 0, true, 'not in the host namespace')

  tap.close()
  t.same(await links(ns), ['lo'], 'a non-persistent tap vanishes with its fds')
  tap.close()
  t.pass('close is idempotent')
})

t.test('tun mode, %d names, vnet_hdr', async (t) => {
  const ns = await makeNs(t, 'kva')
  const tun = createTap(ns, { name: 'kvau%d', mode: 'tun' })
  t.teardown(() => tun.close())
  const tap = createTap(ns, { name: 'kvav%d', vnetHdr: true })
  t.teardown(() => tap.close())
  t.equal(tun.name, 'kvau0')
  t.equal(tap.name, 'kvav0')
  t.match(await tunInfo(ns, 'kvau0'), { type: 'tun', vnet_hdr: false })
  t.match(await tunInfo(ns, 'kvav0'), { type: 'tap', vnet_hdr: true }, 'vnet_hdr flag visible to ip -d')
})

t.test('a 4-queue tap returns 4 fds, one per queue', async (t) => {
  const ns = await makeNs(t, 'kva')
  const tap = createTap(ns, { name: 'kvamq0', queues: 4, vnetHdr: true })
  t.teardown(() => tap.close())
  t.equal(tap.fds.length, 4)
  t.equal(new Set(tap.fds).size, 4, 'distinct fds')
  t.match(await tunInfo(ns, 'kvamq0'), { multi_queue: true, numqueues: 4, vnet_hdr: true })
  tap.close()
  t.same(await links(ns), ['lo'])
})

t.test('persistent: survives close, can be re-attached and un-persisted', async (t) => {
  const ns = await makeNs(t, 'kva')
  const tap = createTap(ns, { name: 'kvap0', persist: true })
  t.equal(tap.persistent, true)
  tap.close()
  t.same(await links(ns), ['kvap0', 'lo'], 'still there after close')
  t.match(await tunInfo(ns, 'kvap0'), { persist: true })

  const again = createTap(ns, { name: 'kvap0' })
  t.teardown(() => again.close())
  native.tapSetPersist(again.fds[0]!, false)
  again.close()
  t.same(await links(ns), ['lo'], 'gone once un-persisted and closed')
})

t.test('owner 65534: that user can attach, another cannot', async (t) => {
  const ns = await makeNs(t, 'kva')
  const tap = createTap(ns, { name: 'kvao0', persist: true, owner: 65534, group: 65534 })
  tap.close()
  const info = await tunInfo(ns, 'kvao0')
  t.match(String(info.user), /^(65534|nobody)$/, 'owner set')

  const nobody = await attachAs(ns, 65534, 65534, 'kvao0')
  t.equal(nobody.stdout.trim(), 'attached', 'uid 65534 attaches')
  t.equal(nobody.exitCode, 0)
  const other = await attachAs(ns, 65533, 65533, 'kvao0')
  t.not(other.exitCode, 0, 'uid 65533 is refused')
  t.match(other.stdout, /Operation not permitted/)
})

t.test('createTaps: all made with one call; one bad item leaves none of the batch behind', async (t) => {
  const ns = await makeNs(t, 'kva')
  const ok = createTaps(ns, [{ name: 'kvab0' }, { name: 'kvab1', queues: 2 }, { name: 'kvab%d', persist: true }])
  t.same(
    ok.map((h) => [h.name, h.fds.length, h.persistent]),
    [
      ['kvab0', 1, false],
      ['kvab1', 2, false],
      ['kvab2', 1, true],
    ],
  )
  for (const h of ok) h.close()
  await execa('ip', ['-n', ns.name, 'link', 'del', 'kvab2'])
  t.same(await links(ns), ['lo'])

  await ns.ip('link add kvabr0 type bridge')
  const batch: TapOptions[] = [
    { name: 'kvac0', persist: true },
    { name: 'kvac1', persist: true, queues: 3 },
    { name: 'kvac2' },
    { name: 'kvabr0' }, // not a tun device: TUNSETIFF fails with EINVAL
    { name: 'kvac4', persist: true },
  ]
  const err = catchErr(() => createTaps(ns, batch))
  t.type(err, BatchItemError)
  t.type(err, SystemError)
  t.match(err, { index: 3, code: 'EINVAL', syscall: 'ioctl', path: 'kvabr0' })
  t.match((err as Error).message, /kvabr0/)
  t.same(await links(ns), ['kvabr0', 'lo'], 'the persistent taps made before the failure were removed')

  const first = catchErr(() => createTaps(ns, [{ name: 'kvabr0' }, { name: 'kvac9' }]))
  t.match(first, { index: 0 })
  t.same(await links(ns), ['kvabr0', 'lo'])
})

t.test('an existing persistent tap is attached to, and a rollback leaves it alone', async (t) => {
  const ns = await makeNs(t, 'kva')
  await ns.ip('link add kvadbr0 type bridge')
  createTap(ns, { name: 'kvad0', persist: true }).close()

  const attached = createTap(ns, { name: 'kvad0' })
  t.equal(attached.persistent, true, 'reported as persistent although not asked for')
  attached.close()
  t.same(await links(ns), ['kvad0', 'kvadbr0', 'lo'], 'closing an attached handle keeps the device')

  const err = catchErr(() => createTaps(ns, [{ name: 'kvad0', persist: true }, { name: 'kvad1', persist: true }, { name: 'kvadbr0' }]))
  t.match(err, { index: 2 })
  t.same(await links(ns), ['kvad0', 'kvadbr0', 'lo'], 'the pre-existing tap survives; the new one is gone')
  t.match(await tunInfo(ns, 'kvad0'), { persist: true })
})

t.test('bad input: SpecError naming the field, nothing created', async (t) => {
  const ns = await makeNs(t, 'kva')
  const cases: Array<[() => unknown, string]> = [
    [() => createTap(ns, { name: 'kva-much-too-long' }), 'name'],
    [() => createTap(ns, { name: 'kva tap' }), 'name'],
    [() => createTap(ns, { name: 'kvaq', queues: 0 }), 'queues'],
    [() => createTap(ns, { name: 'kvaq', queues: 257 }), 'queues'],
    [() => createTap(ns, { name: 'kvaq', owner: -1 }), 'owner'],
    [() => createTaps(ns, [{ name: 'kvaz0', persist: true }, { name: 'kvaz1', queues: 300 }]), 'taps[1].queues'],
    [() => createTaps(ns, [{ name: 'kvaz0', persist: true }, { name: 'kvaz0' }]), 'taps[1].name'],
  ]
  for (const [fn, field] of cases) {
    const err = catchErr(fn)
    t.type(err, SpecError, field)
    t.match(err, { field })
  }
  t.same(await links(ns), ['lo'], 'nothing was created')
})

t.test('a namespace that does not exist: SystemError naming it', async (t) => {
  const path = `/run/netns/${uniqueName('kva')}`
  const err = catchErr(() => createTap({ path }, { name: 'kvax0' }))
  t.type(err, SystemError)
  t.match(err, { code: 'ENOENT', syscall: 'open', path })
  const batchErr = catchErr(() => createTaps({ path }, [{ name: 'kvax0' }]))
  t.type(batchErr, SystemError)
  t.notOk(batchErr instanceof BatchItemError, 'not blamed on an item')
})
