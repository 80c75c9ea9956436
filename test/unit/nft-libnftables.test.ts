/**
 * The in-process nft layer's pure parts (which library, the fallback warning, nft's failure as NftError)
 * and the addon's run-time loading of libnftables, without root: dlopen needs no privileges.
 */
import t from 'tap'
import { NftError } from '../../src/errors.js'
import { loadBinding, native } from '../../src/native/index.js'
import { DEFAULT_LIBNFTABLES, fallbackWarning, libnftablesPath, libnftablesUnavailable, nftErrorOf, preloadLibnftables } from '../../src/nft/libnftables.js'

t.test('the library: $KVMNET_LIBNFTABLES, else libnftables.so.1', async (t) => {
  t.equal(libnftablesPath({}), 'libnftables.so.1')
  t.equal(DEFAULT_LIBNFTABLES, 'libnftables.so.1')
  t.equal(libnftablesPath({ KVMNET_LIBNFTABLES: '' }), 'libnftables.so.1', 'empty: the default')
  t.equal(libnftablesPath({ KVMNET_LIBNFTABLES: '/nonexistent' }), '/nonexistent')
})

t.test('the fallback warning names the library, why, and the fix', async (t) => {
  const w = fallbackWarning('libnftables.so.1', 'libnftables.so.1: cannot open shared object file: No such file or directory')
  t.equal(w.code, 'libnftables-unavailable')
  t.equal(w.object, 'libnftables.so.1')
  t.match(w.message, /cannot open shared object file/)
  t.match(w.message, /nft program/)
  t.match(w.fix, /libnftables1/)
  t.match(fallbackWarning('/x.so', 'gone').fix, /KVMNET_LIBNFTABLES/, 'a forced path: the fix is the variable')
})

t.test("nft's failure in process is the NftError the nft program gives (exit 1, the text verbatim)", async (t) => {
  t.equal(nftErrorOf({ rc: 0, output: '{}', error: '' }), undefined)
  const text = 'internal:0:0-0: Error: Could not process rule: No such file or directory\n\n'
  const err = nftErrorOf({ rc: -1, output: '', error: text })
  t.ok(err instanceof NftError)
  t.equal(err?.exitCode, 1)
  t.equal(err?.stderr, text)
  t.equal(err?.message, new NftError({ exitCode: 1, stderr: text }).message)
})

t.test('the addon loads libnftables at run time, and says why not', async (t) => {
  const why = native.nftLoad('/nonexistent/libnftables.so.1')
  t.match(why, /\/nonexistent\/libnftables\.so\.1: cannot open shared object file/, 'dlerror text')
  t.equal(libnftablesUnavailable('/nonexistent/libnftables.so.1'), why ?? undefined, 'the TS layer keeps it')
  t.equal(native.nftLoad('libnftables.so.1'), null, 'the real one (libnftables1, in ci-packages.txt) loads')
  t.equal(native.nftLoad('/nonexistent/libnftables.so.1') === null, false, 'a later bad path is still refused')
  await t.rejects(native.nftRun('/nonexistent/ns', '{"nftables": []}'), { code: 'ENOENT', syscall: 'open' }, 'a namespace that is not there: SystemError ENOENT')
})

t.test('libnftables loaded ahead on the pool: the same answers as the synchronous load', async (t) => {
  const b = loadBinding()
  t.equal(typeof b.nftLoadAsync, 'function')
  t.equal(await b.nftLoadAsync?.('libnftables.so.1'), null, 'the real one loads off the event loop')
  t.match(await b.nftLoadAsync?.('/nonexistent/preload.so'), /\/nonexistent\/preload\.so: cannot open shared object file/, 'dlerror text')
  // The TS layer: what the preload found is what libnftablesUnavailable answers, with no second load.
  preloadLibnftables('/nonexistent/preload2.so')
  preloadLibnftables('/nonexistent/preload2.so')
  await new Promise((resolve) => setTimeout(resolve, 100))
  const sync = t.capture(b, 'nftLoad')
  t.match(libnftablesUnavailable('/nonexistent/preload2.so'), /cannot open shared object file/)
  t.equal(sync.args().length, 0, 'answered from the preload')
  sync.restore()
  // Asked while a preload is still under way: the synchronous load waits for it in the addon, then answers.
  preloadLibnftables('/nonexistent/preload3.so')
  t.match(libnftablesUnavailable('/nonexistent/preload3.so'), /cannot open shared object file/)
})
