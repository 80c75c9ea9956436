/**
 * The socket's receive path on a real kernel: datagrams read into one reused buffer (native/src/
 * netlink_socket.cc), decoded in place, the replies kept copied out. What a reused buffer could get wrong:
 * a kept reply overwritten by the next datagram, a datagram larger than the buffer lost without a word,
 * replies the kernel dropped, two sockets (two namespaces) sharing the buffer, a socket closed while the
 * reader is in the middle of a wake-up.
 */
import t from 'tap'
import { KvmnetError, SystemError } from '../../src/errors.js'
import { loadBinding, native } from '../../src/native/index.js'
import { NetlinkSubscription, RtnlSocket, encodeDumpLinks, encodeGetLink, decodeLink } from '../../src/rtnl/wire.js'
import { SOL_SOCKET, SO_RCVBUF } from '../../src/rtnl/wire/constants.js'
import { RECV_DATAGRAM_BYTES, isOwnNetlinkPort } from '../../src/rtnl/open-raw-socket.js'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { makeNs } from '../helpers/ns.js'

const RTNLGRP_LINK = 1

function fdOf(sock: RtnlSocket): number {
  return (sock as unknown as { fd: number }).fd
}

/** Counts the datagrams the socket reads, with their sizes. */
function countDatagrams(sock: RtnlSocket): { count: number; bytes: number } {
  const spied = sock as unknown as { onDatagram: (buf: Buffer, n: number) => void }
  const onDatagram = spied.onDatagram.bind(sock)
  const c = { count: 0, bytes: 0 }
  spied.onDatagram = (buf, n) => {
    c.count++
    c.bytes += n
    onDatagram(buf, n)
  }
  return c
}

t.test('a dump many times larger than the buffer: every entry kept intact across datagrams', async (t) => {
  const ns = await makeNs(t, 'm11')
  const names = Array.from({ length: 300 }, (_, i) => `m11r${i}`)
  await ns.ip(names.map((n) => `link add ${n} type bridge`).join('\n'))
  const sock = RtnlSocket.open({ path: ns.path, name: ns.name })
  t.teardown(() => sock.close())
  const seen = countDatagrams(sock)
  const replies = await sock.dump(encodeDumpLinks())
  t.ok(seen.bytes > 4 * RECV_DATAGRAM_BYTES, `${seen.bytes} bytes in ${seen.count} datagrams, buffer ${RECV_DATAGRAM_BYTES}`)
  // Decoded only now, after every datagram went through the same buffer: a view into it would show the
  // last datagram's bytes under the first replies.
  const got = replies.map((r) => decodeLink(r.payload).name)
  t.same(got.filter((n) => n.startsWith('m11r')).sort(), [...names].sort(), 'all 300 links, each its own')
  t.equal(new Set(got).size, got.length, 'no entry repeated')
  // A filter judges in the buffer; what it keeps is copied the same way.
  const kept = await sock.dump(encodeDumpLinks(), { keep: (buf, start, end) => end - start > 16 && buf.readInt32LE(start + 4) === 1 })
  t.same(kept.map((r) => decodeLink(r.payload).name), ['lo'])
})

t.test('a datagram larger than the buffer is reported (MSG_TRUNC), not lost in silence; the socket goes on', async (t) => {
  const ns = await makeNs(t, 'm11')
  const sock = RtnlSocket.open({ path: ns.path, name: ns.name }, undefined, { recvBufferBytes: 256 })
  t.teardown(() => sock.close())
  // lo's RTM_NEWLINK is well over 256 bytes.
  const err = await sock.request(encodeGetLink({ name: 'lo' })).catch((e: unknown) => e)
  t.type(err, KvmnetError)
  t.match((err as Error).message, /truncated: a datagram of \d+ bytes did not fit/)
  t.equal(sock.pending, 0, 'nothing left waiting')
  // An error ack fits: the socket still answers.
  const missing = await sock.request(encodeGetLink({ name: 'm11-none' })).catch((e: { code?: string }) => e.code)
  t.equal(missing, 'ENODEV')
})

t.test('replies the kernel dropped (ENOBUFS) fail what is in flight; the socket goes on', async (t) => {
  const ns = await makeNs(t, 'm11')
  const sock = RtnlSocket.open({ path: ns.path, name: ns.name })
  t.teardown(() => sock.close())
  // The smallest receive queue the kernel allows (~4.5 KiB): a thousand ~1.4 KiB replies cannot fit.
  native.setsockoptInt(fdOf(sock), SOL_SOCKET, SO_RCVBUF, 1)
  const results = await Promise.allSettled(Array.from({ length: 1000 }, () => sock.request(encodeGetLink({ name: 'lo' }))))
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as SystemError)
  t.ok(failed.length > 0, `${failed.length} of 1000 failed`)
  t.ok(failed.every((e) => e instanceof SystemError && e.code === 'ENOBUFS'), `as ENOBUFS: ${String(failed[0])}`)
  t.equal(sock.pending, 0, 'none left hanging')
  native.setsockoptInt(fdOf(sock), SOL_SOCKET, SO_RCVBUF, 1 << 20)
  // Replies still queued for requests already failed are read and dropped; new requests are answered.
  const again = await Promise.all(Array.from({ length: 20 }, () => sock.request(encodeGetLink({ name: 'lo' }))))
  t.ok(again.every((r) => decodeLink(r[0]!.payload).name === 'lo'), '20 new requests answered')
})

t.test('two sockets in two namespaces at once, reading into the same buffer', async (t) => {
  const [a, b] = await Promise.all([makeNs(t, 'm11'), makeNs(t, 'm11')])
  await a.ip(Array.from({ length: 120 }, (_, i) => `link add m11a${i} type bridge`).join('\n'))
  await b.ip(Array.from({ length: 80 }, (_, i) => `link add m11b${i} type bridge`).join('\n'))
  const sa = RtnlSocket.open({ path: a.path, name: a.name })
  const sb = RtnlSocket.open({ path: b.path, name: b.name })
  t.teardown(() => {
    sa.close()
    sb.close()
  })
  const gets = (s: RtnlSocket, prefix: string, n: number) => Array.from({ length: n }, (_, i) => s.request(encodeGetLink({ name: `${prefix}${i}` })).then((r) => decodeLink(r[0]!.payload).name))
  const [da, db, ga, gb] = await Promise.all([sa.dump(encodeDumpLinks()), sb.dump(encodeDumpLinks()), Promise.all(gets(sa, 'm11a', 120)), Promise.all(gets(sb, 'm11b', 80))])
  const names = (r: typeof da) => r.map((x) => decodeLink(x.payload).name).filter((n) => n !== 'lo')
  t.equal(names(da).length, 120)
  t.ok(names(da).every((n) => n.startsWith('m11a')), "a's dump holds only a's links")
  t.equal(names(db).length, 80)
  t.ok(names(db).every((n) => n.startsWith('m11b')), "b's dump holds only b's links")
  t.same(ga, Array.from({ length: 120 }, (_, i) => `m11a${i}`), "a's requests answered with a's links, in order")
  t.same(gb, Array.from({ length: 80 }, (_, i) => `m11b${i}`))
})

t.test('a socket closed in the middle of a read: what is pending rejects, nothing more is delivered', async (t) => {
  const ns = await makeNs(t, 'm11')
  await ns.ip(Array.from({ length: 300 }, (_, i) => `link add m11c${i} type bridge`).join('\n'))
  const sock = RtnlSocket.open({ path: ns.path, name: ns.name })
  t.teardown(() => sock.close())
  // Closed from inside the handler of the third datagram of a dump that takes many: the reader is in the
  // middle of a wake-up (more datagrams waiting on the socket) when the socket goes.
  let messages = 0
  let afterClose = 0
  let closed = false
  sock.watchGroup(RTNLGRP_LINK, () => {
    if (closed) afterClose++
    else if (++messages === 3 * 20) {
      closed = true
      sock.close()
    }
  })
  const dump = sock.dump(encodeDumpLinks())
  const other = sock.request(encodeGetLink({ name: 'lo' }))
  const [d, o] = await Promise.allSettled([dump, other])
  t.ok(closed, `closed after ${messages} messages`)
  t.equal(d.status, 'rejected')
  t.match(d.status === 'rejected' ? String(d.reason) : '', /closed/)
  t.equal(o.status === 'fulfilled' || /closed/.test(String((o as PromiseRejectedResult).reason)), true, 'the other request answered before, or told the socket closed')
  t.equal(afterClose, 0, 'no message handed on after close')
  await t.rejects(sock.request(encodeGetLink({ name: 'lo' })), KvmnetError)
  // The process goes on: a new socket reads normally.
  const fresh = RtnlSocket.open({ path: ns.path, name: ns.name })
  t.teardown(() => fresh.close())
  t.equal((await fresh.dump(encodeDumpLinks())).length, 301)
})

t.test("with an addon that predates its own socket, the netlink package's socket is used, as before", async (t) => {
  const ns = await makeNs(t, 'm11')
  await ns.ip(Array.from({ length: 100 }, (_, i) => `link add m11p${i} type bridge`).join('\n'))
  const binding = loadBinding() as { NetlinkSocket?: unknown }
  const own = binding.NetlinkSocket
  delete binding.NetlinkSocket
  let sock: RtnlSocket
  try {
    sock = RtnlSocket.open({ path: ns.path, name: ns.name })
  } finally {
    binding.NetlinkSocket = own
  }
  t.teardown(() => sock.close())
  t.ok(isOwnNetlinkPort(sock.port), 'a port id of this process')
  const [dump, gets] = await Promise.all([sock.dump(encodeDumpLinks()), Promise.all(Array.from({ length: 100 }, (_, i) => sock.request(encodeGetLink({ name: `m11p${i}` }))))])
  t.equal(dump.length, 101)
  t.same(gets.map((r) => decodeLink(r[0]!.payload).name), Array.from({ length: 100 }, (_, i) => `m11p${i}`))
  const missing = await sock.request(encodeGetLink({ name: 'm11-none' })).catch((e: { code?: string }) => e.code)
  t.equal(missing, 'ENODEV')
})

t.test('a closed socket is garbage like any object (the native side lets go of its callback and buffer)', async (t) => {
  // The addon held the callback strongly, and through it the socket: every socket opened and closed (one
  // per `up` for the nf_tables first look) stayed in memory for good.
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const ns = await makeNs(t, 'm11')
  const refs: WeakRef<RtnlSocket>[] = []
  for (let i = 0; i < 50; i++) {
    const s = RtnlSocket.open({ path: ns.path, name: ns.name })
    await s.request(encodeGetLink({ name: 'lo' }))
    s.close()
    refs.push(new WeakRef(s))
  }
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r))
    gc()
  }
  const alive = refs.filter((r) => r.deref() !== undefined).length
  t.ok(alive <= 2, `${alive} of 50 closed sockets still alive after GC`)
})

t.test('a closed subscription is garbage too (its listener let go of its callback)', async (t) => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const ns = await makeNs(t, 'm11')
  const refs: WeakRef<NetlinkSubscription>[] = []
  for (let i = 0; i < 30; i++) {
    const s = NetlinkSubscription.open({ path: ns.path, name: ns.name }, [RTNLGRP_LINK])
    refs.push(new WeakRef(s))
    s.close()
  }
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r))
    gc()
  }
  const alive = refs.filter((r) => r.deref() !== undefined).length
  t.ok(alive <= 2, `${alive} of 30 closed subscriptions still alive after GC`)
})
