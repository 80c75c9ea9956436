/**
 * Holds every libuv pool thread of this process in open(2) of a FIFO until release() opens their writing
 * ends: what a test of work sent "off the event loop" uses to prove the loop still runs meanwhile, and that
 * the work waits for a pool thread.
 */
import { closeSync, constants as fsc, openSync } from 'node:fs'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'

export async function holdPool(t: { teardown(fn: () => unknown): void }): Promise<{ release(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'kvmnet-pool-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const size = Number(process.env['UV_THREADPOOL_SIZE']) || 4
  const fifos = Array.from({ length: size }, (_, i) => join(dir, `f${i}`))
  await execa('mkfifo', fifos)
  const opens = fifos.map((f) => open(f, 'r'))
  let released = false
  const release = async (): Promise<void> => {
    if (released) return
    released = true
    // O_RDWR opens a FIFO at once and is a writer: every reader's open(2) returns, also one that a pool
    // thread busy with an earlier job (a delete's sendmsg) has not started yet.
    const writers = fifos.map((f) => openSync(f, fsc.O_RDWR))
    for (const h of await Promise.all(opens)) await h.close()
    for (const w of writers) closeSync(w)
  }
  t.teardown(release)
  return { release }
}
