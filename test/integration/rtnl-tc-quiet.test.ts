/**
 * Quiet requests (RtnlSocket.requestQuiet, what every tc change is sent as) on a real kernel: sent without
 * NLM_F_ACK, each is settled by its own refusal or by the answer to a later request; hundreds in flight are
 * answered in a few datagrams, a refusal still fails only its own request with the kernel's words, and
 * nothing is left waiting (alone, last of its datagram, before a dump, on close).
 */
import t, { type Test } from 'tap'
import { execa } from 'execa'
import { KvmnetError, NetlinkError } from '../../src/errors.js'
import { RtnlSocket, encodeCreateLink, encodeGetLink } from '../../src/rtnl/wire.js'
import { encodeDeleteClass, encodeDumpClasses, encodeReplaceHtbClass, encodeReplaceQdisc } from '../../src/rtnl/tc-message.js'
import { makeNs, type TestNs } from '../helpers/ns.js'

const H = 0x4b510000

async function setup(t: Test): Promise<{ ns: TestNs; sock: RtnlSocket; dev: number; received: { count: number } }> {
  const ns = await makeNs(t, 'k11q')
  const sock = RtnlSocket.open({ path: ns.path, name: ns.name })
  t.teardown(() => sock.close())
  await sock.request(encodeCreateLink({ kind: 'bridge', name: 'k11q-br' }))
  const { stdout } = await execa('ip', ['-n', ns.name, '-j', 'link', 'show', 'k11q-br'])
  const dev = (JSON.parse(stdout) as Array<{ ifindex: number }>)[0]!.ifindex
  // Datagrams the kernel sent to the socket: every ack is one.
  const spied = sock as unknown as { onDatagram: (buf: Buffer, n: number) => void }
  const onDatagram = spied.onDatagram.bind(sock)
  const received = { count: 0 }
  spied.onDatagram = (buf, n) => {
    received.count++
    onDatagram(buf, n)
  }
  return { ns, sock, dev, received }
}

t.test('300 quiet tc changes: a few datagrams of answers, each refusal its own, the rest done', async (t) => {
  const { ns, sock, dev, received } = await setup(t)
  await sock.requestQuiet(encodeReplaceQdisc({ kind: 'htb', dev, handle: H, defaultClass: 1 }), { object: 'root' })
  const before = received.count
  const n = 300
  // Every 50th names a parent that does not exist: the kernel refuses it and goes on with the rest.
  const bad = (i: number): boolean => i % 50 === 7
  const sent = Array.from({ length: n }, (_, i) =>
    sock
      .requestQuiet(encodeReplaceHtbClass({ dev, classid: H | (i + 1), parent: bad(i) ? 0x12340000 : H, rate: 125000 + i }), { object: `class ${i}` })
      .then(
        () => 'ok',
        (e: unknown) => e,
      ),
  )
  const results = await Promise.all(sent)
  const refused = results.flatMap((r, i) => (r === 'ok' ? [] : [i]))
  t.same(refused, Array.from({ length: n }, (_, i) => i).filter(bad), 'the refused ones, and only those')
  for (const i of refused) {
    t.type(results[i], NetlinkError)
    t.match(results[i], { op: 'RTM_NEWTCLASS', object: `class ${i}` })
  }
  const answers = received.count - before
  t.ok(answers < n / 10, `${n} requests answered in ${answers} datagrams`)
  const { stdout } = await execa('tc', ['-n', ns.name, 'class', 'show', 'dev', 'k11q-br'])
  t.equal(stdout.split('\n').filter((l) => l.startsWith('class htb')).length, n - refused.length, 'every other class is there')
  t.equal(sock.pending, 0)
})

t.test('a quiet request alone, or ending its datagram, is acked; a refusal of the last one is its own', async (t) => {
  const { sock, dev } = await setup(t)
  await sock.requestQuiet(encodeReplaceQdisc({ kind: 'htb', dev, handle: H, defaultClass: 1 }))
  await t.resolves(sock.requestQuiet(encodeReplaceHtbClass({ dev, classid: H | 1, parent: H, rate: 1000 })))
  const [first, last] = await Promise.allSettled([
    sock.requestQuiet(encodeReplaceHtbClass({ dev, classid: H | 2, parent: H, rate: 1000 })),
    sock.requestQuiet(encodeDeleteClass(dev, H | 99), { object: 'no such class' }),
  ])
  t.equal(first.status, 'fulfilled')
  t.match(last, { status: 'rejected', reason: { object: 'no such class' } })
  t.equal(sock.pending, 0)
})

t.test('quiet requests mixed with acked ones and a dump: all settled in order', async (t) => {
  const { sock, dev } = await setup(t)
  const order: string[] = []
  const q = sock.requestQuiet(encodeReplaceQdisc({ kind: 'htb', dev, handle: H, defaultClass: 1 })).then(() => order.push('qdisc'))
  const c = sock.requestQuiet(encodeReplaceHtbClass({ dev, classid: H | 1, parent: H, rate: 1000 })).then(() => order.push('class'))
  const g = sock.request(encodeGetLink({ name: 'k11q-br' })).then(() => order.push('get'))
  const c2 = sock.requestQuiet(encodeReplaceHtbClass({ dev, classid: H | 2, parent: H, rate: 1000 })).then(() => order.push('class2'))
  const d = sock.dump(encodeDumpClasses(dev)).then((r) => order.push(`dump ${r.length}`))
  await Promise.all([q, c, g, c2, d])
  t.same(order, ['qdisc', 'class', 'get', 'class2', 'dump 2'])
  t.equal(sock.pending, 0)
})

t.test('close rejects quiet requests still in flight', async (t) => {
  const { sock, dev } = await setup(t)
  const p = Promise.all([sock.requestQuiet(encodeReplaceQdisc({ kind: 'htb', dev, handle: H, defaultClass: 1 })), sock.requestQuiet(encodeReplaceHtbClass({ dev, classid: H | 1, parent: H, rate: 1000 }))])
  sock.close()
  await t.rejects(p, KvmnetError)
  t.equal(sock.pending, 0)
})
