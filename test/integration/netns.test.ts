/**
 * Netns against the real kernel: namespaces made by the addon must be indistinguishable from
 * `ip netns add` ones, and the event loop's thread must always come home.
 */
import t from 'tap'
import { execa } from 'execa'
import { readFileSync, statSync } from 'node:fs'
import { NotFoundError, SpecError, SystemError } from '../../src/errors.js'
import { native } from '../../src/native/index.js'
import { Netns } from '../../src/netns/netns.js'
import { makeNs, nsGone, uniqueName } from '../helpers/ns.js'

/** Deletes the namespace with iproute2 at teardown, whatever the test did to it. */
function cleanup(t: { teardown(fn: () => unknown): void }, name: string | undefined): void {
  if (name) t.teardown(() => execa('ip', ['netns', 'delete', name], { reject: false }))
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  )
}

async function ipNetnsList(): Promise<string[]> {
  const { stdout } = await execa('ip', ['netns', 'list'])
  return stdout.split('\n').filter(Boolean).map((l) => l.split(' ')[0] ?? '')
}

async function linkFlags(ns: string, dev: string): Promise<string[]> {
  const { stdout } = await execa('ip', ['-n', ns, '-j', 'link', 'show', 'dev', dev])
  return (JSON.parse(stdout) as Array<{ flags: string[] }>)[0]?.flags ?? []
}

function threadNsInode(): number {
  return statSync('/proc/thread-self/ns/net').ino
}

t.test('create: visible to ip netns, lo up; delete: gone, and again is a no-op', async (t) => {
  const ns = await Netns.create({ prefix: 'kva' })
  cleanup(t, ns.name)
  t.match(ns.name, /^kva-[0-9a-f]{8}$/)
  t.equal(ns.path, `/run/netns/${ns.name}`)
  t.equal(ns.isCurrent, false)
  t.ok((await ipNetnsList()).includes(ns.name!), 'listed by ip netns list')
  t.ok((await Netns.list()).includes(ns.name!), 'listed by Netns.list')
  t.ok((await linkFlags(ns.name!, 'lo')).includes('UP'), 'lo is UP')
  t.not(statSync(ns.path).ino, threadNsInode(), 'a namespace other than ours')

  // iproute2 can use it like its own.
  await execa('ip', ['-n', ns.name!, 'link', 'add', 'kvabr0', 'type', 'bridge'])
  t.ok((await execa('ip', ['-n', ns.name!, 'link', 'show', 'kvabr0'])).stdout.includes('kvabr0'))

  await ns.delete()
  t.ok(nsGone(ns.name!), 'file removed')
  t.notOk((await ipNetnsList()).includes(ns.name!), 'ip netns list no longer shows it')
  await ns.delete()
  t.pass('second delete is a no-op')
})

t.test('create with a given name; the same name again is EEXIST and leaves the first intact', async (t) => {
  const name = uniqueName('kva')
  cleanup(t, name)
  const ns = await Netns.create({ name })
  t.equal(ns.name, name)
  const err = await rejection(Netns.create({ name }))
  t.type(err, SystemError)
  t.match(err, { code: 'EEXIST', syscall: 'open', path: `/run/netns/${name}` })
  t.ok((await linkFlags(name, 'lo')).includes('UP'), 'the first one still works')
  await ns.delete()
})

t.test('a namespace deleted by ip netns del is fine for delete()', async (t) => {
  const ns = await Netns.create({ prefix: 'kva' })
  cleanup(t, ns.name)
  await execa('ip', ['netns', 'delete', ns.name!])
  await ns.delete()
  t.ok(nsGone(ns.name!))
})

t.test('open: by name and path; missing → NotFoundError', async (t) => {
  const fixture = await makeNs(t, 'kva')
  const byName = Netns.open(fixture.name)
  t.equal(byName.path, fixture.path)
  t.equal(byName.name, fixture.name)
  const byPath = Netns.open(fixture.path)
  t.equal(byPath.name, fixture.name)

  const missing = uniqueName('kva')
  t.throws(() => Netns.open(missing), NotFoundError)
  t.throws(() => Netns.open(`/run/netns/${missing}`), NotFoundError)
  t.throws(() => Netns.open('..'), SpecError, 'a bad name is a SpecError')

  // asyncDispose of a handle that did not create the namespace leaves it alone.
  await byName[Symbol.asyncDispose]()
  t.notOk(nsGone(fixture.name), 'opened namespaces are not deleted on dispose')
})

t.test('asyncDispose deletes what create made', async (t) => {
  const ns = await Netns.create({ prefix: 'kva' })
  cleanup(t, ns.name)
  await ns[Symbol.asyncDispose]()
  t.ok(nsGone(ns.name!))
})

t.test('runSync runs inside the namespace and comes back, also when fn throws', async (t) => {
  const fixture = await makeNs(t, 'kva')
  await fixture.ip('link add kvav0 type veth peer name kvav1')
  const ns = Netns.open(fixture.name)
  const home = threadNsInode()
  const target = statSync(ns.path).ino

  const seen = ns.runSync(() => ({ ino: threadNsInode(), dev: readFileSync('/proc/thread-self/net/dev', 'utf8') }))
  t.equal(seen.ino, target, 'inside: the thread is in the namespace')
  t.match(seen.dev, /kvav0:/, 'inside: its links are visible')
  t.equal(threadNsInode(), home, 'back home after a return')
  t.notMatch(readFileSync('/proc/thread-self/net/dev', 'utf8'), /kvav0:/)

  const boom = new Error('boom')
  let inside = 0
  t.throws(
    () =>
      ns.runSync(() => {
        inside = threadNsInode()
        throw boom
      }),
    boom,
  )
  t.equal(inside, target)
  t.equal(threadNsInode(), home, 'back home after a throw')

  // An error from fn is passed on as is, even one that looks like a native failure.
  const nativeLooking = Object.assign(new Error('fake'), { errno: 2, syscall: 'open' })
  let caught: unknown
  try {
    native.withNetns(ns.path, () => {
      throw nativeLooking
    })
  } catch (err) {
    caught = err
  }
  t.equal(caught, nativeLooking, 'identity preserved')
  t.equal(threadNsInode(), home)

  // Nested: the inner switch returns to the outer namespace, not to the process's.
  const other = await makeNs(t, 'kva')
  const path = ns.runSync(() => {
    const innerIno = Netns.open(other.name).runSync(() => threadNsInode())
    return { innerIno, after: threadNsInode() }
  })
  t.equal(path.innerIno, statSync(other.path).ino)
  t.equal(path.after, target, 'nested call returns to the outer namespace')
  t.equal(threadNsInode(), home)
})

t.test('current(): the process namespace, runSync without a switch, not deletable', async (t) => {
  const cur = Netns.current()
  t.equal(cur.isCurrent, true)
  t.equal(cur.path, `/proc/${process.pid}/task/${process.pid}/ns/net`)
  t.equal(statSync(cur.path).ino, threadNsInode())
  t.equal(
    cur.runSync(() => 42),
    42,
  )
  await t.rejects(cur.delete(), SpecError)
})

t.test('bad names: SpecError, nothing created', async (t) => {
  const before = await Netns.list()
  for (const name of ['', '.', '..', 'kva/x', 'k'.repeat(256)]) {
    const err = await rejection(Netns.create({ name }))
    t.type(err, SpecError, JSON.stringify(name))
    t.match(err, { field: 'name' })
  }
  const err = await rejection(Netns.create({ prefix: 'kva/../x' }))
  t.type(err, SpecError)
  t.match(err, { field: 'prefix' })
  t.same(
    (await Netns.list()).filter((n) => n.startsWith('kva')),
    before.filter((n) => n.startsWith('kva')),
  )
})
