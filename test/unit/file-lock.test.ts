/**
 * The lock file's holder record (src/lock/file-lock.ts): the pid is written over the previous record in
 * place, never by truncating first (on ext4 a file truncated and written again is flushed to disk when
 * it is closed: milliseconds per lock). What a waiter reads back is the holder's pid whatever was there.
 */
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { acquireLock } from '../../src/lock/index.js'
import { BusyError } from '../../src/errors.js'

t.test('the holder is the pid in the file, over a longer or shorter earlier record', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-lock-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'net.lock')
  for (const before of [undefined, '1\n', '123456789012345678901234567890\n']) {
    if (before !== undefined) writeFileSync(path, before)
    const lock = await acquireLock(path, { timeoutMs: 0, what: 'network x' })
    t.equal(Number(readFileSync(path, 'utf8').trim()), process.pid, `this process is recorded (before: ${JSON.stringify(before)})`)
    t.ok(statSync(path).size <= 12, 'one record, nothing of the earlier one after it')
    // A second open file description of the same process is another holder to flock: busy, named.
    const err = await acquireLock(path, { timeoutMs: 0, what: 'network x' }).then(() => undefined, (e: unknown) => e)
    t.ok(err instanceof BusyError, 'taken: BusyError')
    t.same((err as BusyError).holder, { pid: process.pid }, 'naming the holder by its pid')
    lock.release()
  }
  const lock = await acquireLock(path, { timeoutMs: 0, what: 'network x' })
  lock.release({ remove: true })
  t.throws(() => statSync(path), { code: 'ENOENT' }, 'release with remove deletes the file')
})
