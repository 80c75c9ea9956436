/**
 * native/idle-trim.ts: glibc's freed pages go back to the kernel once the library has been idle for
 * IDLE_MS — never while an operation runs, once per idle period however many operations ended (one
 * coalesced timer), never keeping a process alive (a child that finishes its operation exits at once,
 * its trim still pending), and not at all in a process that never loaded the addon. Waits on the real
 * timer; nothing here asserts a duration.
 */
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { IDLE_MS, asOperation, idleTrimState, loadBinding, native } from '../../src/native/index.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const run = promisify(execFile)

/** A child process running `body` (an ES module's text) with the source's native folder imported as `n`. */
async function child(body: string): Promise<string> {
  const script = `import * as n from ${JSON.stringify(join(root, 'src/native/index.ts'))}\n${body}`
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root })
  return stdout.trim()
}

t.test('the addon trims on the libuv pool and answers whether memory went back', async (t) => {
  t.type(await native.mallocTrim?.(), 'boolean')
})

t.test('once after the last operation ends, not while one runs; coalesced; once per idle period', async (t) => {
  loadBinding()
  const start = idleTrimState().trims
  let finish!: () => void
  const long = asOperation(() => new Promise<void>((r) => (finish = r)))
  // A short operation ends while the long one runs: still busy, nothing armed to trim.
  await asOperation(async () => undefined)
  t.same(idleTrimState(), { trims: start, pending: false, busy: 1 }, 'an operation runs: no trim armed')
  await sleep(IDLE_MS + 500)
  t.equal(idleTrimState().trims, start, 'no trim while it runs, however long')
  finish()
  await long
  // Three more end within the idle period: one timer, pushed back.
  for (let i = 0; i < 3; i++) await asOperation(async () => undefined)
  t.same(idleTrimState(), { trims: start, pending: true, busy: 0 }, 'all ended: one trim armed')
  await sleep(IDLE_MS + 500)
  t.same(idleTrimState(), { trims: start + 1, pending: false, busy: 0 }, 'trimmed once after idle')
  await sleep(IDLE_MS + 500)
  t.equal(idleTrimState().trims, start + 1, 'and not again without another operation')
  // An operation that fails counts as ended too.
  await t.rejects(asOperation(async () => Promise.reject(new Error('refused'))), /refused/)
  t.ok(idleTrimState().pending, 'a failed operation arms it as well')
  await sleep(IDLE_MS + 500)
  t.equal(idleTrimState().trims, start + 2)
})

t.test('never keeps a process alive: a child exits as its operation ends, the trim still pending', async (t) => {
  const out = await child(`
    n.loadBinding()
    await n.asOperation(async () => undefined)
    process.on('exit', () => console.log(JSON.stringify(n.idleTrimState())))
  `)
  t.same(JSON.parse(out), { trims: 0, pending: true, busy: 0 }, 'exited before the idle period: the timer is unref-ed')
})

t.test('a process that never loaded the addon never loads it to trim', async (t) => {
  const out = await child(`
    await n.asOperation(async () => undefined)
    setTimeout(() => console.log(JSON.stringify(n.idleTrimState())), ${IDLE_MS + 500})
  `)
  t.same(JSON.parse(out), { trims: 0, pending: false, busy: 0 })
})
