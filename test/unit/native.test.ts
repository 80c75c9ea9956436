/**
 * The addon loader and the error mapping, without root: only calls whose failure does not depend on
 * privileges (bad fds, missing files) are made against the real addon.
 */
import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KvmnetError, SystemError } from '../../src/errors.js'
import { BatchItemError, findPackageRoot, loadBinding, mapNativeError, native } from '../../src/native/index.js'
import { catchErr } from '../helpers/catch.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

t.test('findPackageRoot finds kvmnet from every place the loader can live', async (t) => {
  t.equal(findPackageRoot(join(repoRoot, 'src', 'native')), repoRoot, 'src/native (tsx, tap)')
  t.equal(findPackageRoot(join(repoRoot, 'dist')), repoRoot, 'dist/ bundles')

  const scratch = mkdtempSync(join(tmpdir(), 'kva-root-'))
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'some-app' }))
  const installed = join(scratch, 'node_modules', 'kvmnet')
  mkdirSync(join(installed, 'dist'), { recursive: true })
  writeFileSync(join(installed, 'package.json'), JSON.stringify({ name: 'kvmnet' }))
  t.equal(findPackageRoot(join(installed, 'dist')), installed, 'node_modules/kvmnet/dist, not the app above it')
  t.throws(() => findPackageRoot(scratch), KvmnetError, 'no kvmnet package above: a typed error')
})

t.test('the binding loads and exports every function', async (t) => {
  const b = loadBinding()
  for (const fn of [
    'netnsCreate',
    'netnsDelete',
    'withNetns',
    'findNetlinkFd',
    'setsockoptInt',
    'netlinkWidenDumps',
    'ifUp',
    'tapCreate',
    'tapCreateMany',
    'tapSetPersist',
    'tapSettle',
    'closeFd',
    'nftLoad',
    'nftLoadAsync',
    'nftRun',
    'nftRelease',
    'mallocTrim',
    'NetlinkListener',
  ] as const) {
    t.equal(typeof b[fn], 'function', fn)
  }
  t.equal(loadBinding(), b, 'loaded once')
})

t.test('constants come from the kernel headers (golden values of the Linux ABI)', async (t) => {
  const c = native.constants
  t.same(
    {
      SOL_SOCKET: c.SOL_SOCKET,
      SOL_NETLINK: c.SOL_NETLINK,
      NETLINK_ROUTE: c.NETLINK_ROUTE,
      NETLINK_EXT_ACK: c.NETLINK_EXT_ACK,
      NETLINK_GET_STRICT_CHK: c.NETLINK_GET_STRICT_CHK,
      CLONE_NEWNET: c.CLONE_NEWNET,
      IFF_TUN: c.IFF_TUN,
      IFF_TAP: c.IFF_TAP,
      IFF_NO_PI: c.IFF_NO_PI,
      IFF_VNET_HDR: c.IFF_VNET_HDR,
      IFF_MULTI_QUEUE: c.IFF_MULTI_QUEUE,
    },
    {
      SOL_SOCKET: 1,
      SOL_NETLINK: 270,
      NETLINK_ROUTE: 0,
      NETLINK_EXT_ACK: 11,
      NETLINK_GET_STRICT_CHK: 12,
      CLONE_NEWNET: 0x40000000,
      IFF_TUN: 0x1,
      IFF_TAP: 0x2,
      IFF_NO_PI: 0x1000,
      IFF_VNET_HDR: 0x4000,
      IFF_MULTI_QUEUE: 0x100,
    },
  )
  t.ok(Object.isFrozen(c))
})

t.test('system call failures become SystemError with errno, code, syscall and path', async (t) => {
  const closeErr = catchErr(() => native.closeFd(-1))
  t.type(closeErr, SystemError)
  t.match(closeErr, { errno: 9, code: 'EBADF', syscall: 'close', path: undefined })
  t.type((closeErr as Error).cause, Error, 'the addon error is kept as cause')

  t.match(catchErr(() => native.setsockoptInt(-1, 1, 8, 1)), { errno: 9, code: 'EBADF', syscall: 'setsockopt' })
  t.match(catchErr(() => native.tapSetPersist(-1, false)), { errno: 9, code: 'EBADF', syscall: 'ioctl' })
  // tapSettle: a namespace that is not there is a SystemError before anything is asked; a bad name a TypeError.
  t.type(catchErr(() => native.tapSettle!('/nonexistent-kva/netns', ['t0'])), SystemError)
  t.type(catchErr(() => loadBinding().tapSettle!(null, ['x'.repeat(16)])), TypeError, 'a name over 15 bytes')
  t.equal(native.tapSettle!(null, []), undefined, 'no names: nothing to ask')

  let called = false
  const missing = '/nonexistent-kva/netns'
  const openErr = catchErr(() =>
    native.withNetns(missing, () => {
      called = true
    }),
  )
  t.type(openErr, SystemError)
  t.match(openErr, { errno: 2, code: 'ENOENT', syscall: 'open', path: missing })
  t.match((openErr as Error).message, missing, 'the message names the path')
  t.notOk(called, 'fn is not run when the namespace cannot be entered')

  const createErr = catchErr(() => native.netnsCreate('/nonexistent-kva/dir/ns'))
  t.type(createErr, SystemError)
  t.match(createErr, { code: 'ENOENT', syscall: 'mkdir', path: '/nonexistent-kva/dir' })
})

t.test('findNetlinkFd answers -1 for a port no socket of ours has', async (t) => {
  t.equal(native.findNetlinkFd(0xfffffff0, 0), -1)
})

t.test('a wrong call is a TypeError, not a SystemError', async (t) => {
  const err = catchErr(() => (native.closeFd as (fd: unknown) => void)('three'))
  t.type(err, TypeError)
  t.notOk(err instanceof SystemError)
  t.type(catchErr(() => (native.withNetns as (p: string, f: unknown) => void)('/x', 1)), TypeError)
})

t.test('mapNativeError', async (t) => {
  const raw = Object.assign(new Error('ioctl(TUNSETIFF) lo: Invalid argument'), {
    errno: 22,
    code: 'EINVAL',
    syscall: 'ioctl',
    path: 'lo',
    index: 2,
  })
  const mapped = mapNativeError(raw)
  t.type(mapped, BatchItemError)
  t.type(mapped, SystemError)
  t.match(mapped, { errno: 22, code: 'EINVAL', syscall: 'ioctl', path: 'lo', index: 2, cause: raw })
  t.equal((mapped as Error).message, raw.message)

  const plain = new TypeError('fd must be an integer')
  t.equal(mapNativeError(plain), plain, 'errors without errno pass through')
  const ours = new SystemError({ errno: 1, syscall: 'x' })
  t.equal(mapNativeError(ours), ours, 'already mapped errors pass through')
  t.equal(mapNativeError('text'), 'text')
})

