/**
 * Bringing the network up on the first ADD, so that a plugin killed at any moment of it (the runtime's
 * timeout, SIGKILL) leaves nothing permanent. The intent is recorded first: the "brought up by kvmnet-cni"
 * marker is in the state directory before `up` starts, so a network whose bring-up was cut short after
 * its state was journalled is one GC takes down once no attachment is valid (and the next ADD's converge
 * finishes). A bring-up cut short before its state was journalled made nothing in the kernel (kvmnet
 * journals before it creates): the marker, the bring-up lock and any temp file are removed by the next
 * ADD, DEL or GC that finds the network not up (clearAbandonedBringUp).
 *
 * The first ADDs of a pod storm all find the network down: they queue on the bring-up lock beside the
 * network's own, so one of them brings it up and the others only open it — rather than each running a
 * full `up` in turn (a converge that changes nothing, or refuses with WouldRemoveError once the first
 * reservation is there).
 */
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { BusyError, isNotFound, WouldRemoveError } from '../errors.js'
import { acquireLock, type LockHandle } from '../lock/index.js'
import { createNetwork, type Network } from '../network/index.js'
import { readState, removeEmptyParents } from '../network/index.js'
import type { CniConfig } from './config.js'
import { LOCK_WAIT_MS, networkOptions, openIfUp } from './network.js'
import { ownerMarker, recordsDir } from './records.js'
import { isoTime } from '../util/index.js'

type NetworkConfig = Pick<CniConfig, 'stateRoot' | 'spec'>

function bringUpLock(stateDir: string): string {
  return `${stateDir}.cni-up.lock`
}

/** Remove the marker (and the records directory when it is empty): this ADD did not bring the network up. */
async function dropIntent(stateDir: string): Promise<void> {
  await rm(ownerMarker(stateDir), { force: true })
  await rmdir(recordsDir(stateDir)).catch((err: unknown) => {
    // Gone with a rolled-back state directory, or still holding another attachment's record.
    if (!isNotFound(err) && (err as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw err
  })
}

/** The network, brought up from the configuration's spec when it is not up yet. */
export async function ensureUp(cfg: NetworkConfig): Promise<Network> {
  const open = await openIfUp(cfg)
  if (open) return open
  const net = createNetwork(cfg.spec, networkOptions(cfg))
  let lock: LockHandle | undefined
  try {
    lock = await acquireLock(bringUpLock(net.stateDir), { timeoutMs: LOCK_WAIT_MS, what: `bring-up of network ${net.name}` })
    const meanwhile = await openIfUp(cfg)
    if (meanwhile) {
      net.close()
      return meanwhile
    }
    // Intent first (see above): from here on, a kill leaves a network GC takes down, or nothing.
    await mkdir(recordsDir(net.stateDir), { recursive: true, mode: 0o755 })
    await writeFile(ownerMarker(net.stateDir), `${isoTime()}\n`)
    try {
      await net.up()
    } catch (err) {
      // Rolled back (its state directory went with it), or someone else's network: not ours to take down.
      await dropIntent(net.stateDir)
      throw err
    }
    return net
  } catch (err) {
    net.close()
    // Brought up by someone else's `up` (kvmnet up, another runtime) between the two looks.
    if (err instanceof WouldRemoveError) {
      const again = await openIfUp(cfg)
      if (again) return again
    }
    throw err
  } finally {
    lock?.release({ remove: true })
    if (lock) await removeEmptyParents(net.stateDir)
  }
}

/**
 * What a bring-up killed before its state was journalled left: the marker and the records directory, the
 * bring-up lock, a temp file of the state. Removed only under both the bring-up lock and the network's
 * lock, with no state recorded — nobody is bringing the network up or applying to it — and not at all
 * while another process holds either lock (that one finishes).
 */
export async function clearAbandonedBringUp(cfg: NetworkConfig): Promise<void> {
  const planned = createNetwork(cfg.spec, networkOptions(cfg))
  const dir = planned.stateDir
  planned.close()
  if (!existsSync(bringUpLock(dir)) && !existsSync(dir)) return
  const locks: LockHandle[] = []
  try {
    locks.push(await acquireLock(bringUpLock(dir), { timeoutMs: 0, what: `bring-up of network ${cfg.spec.name}` }))
    locks.push(await acquireLock(`${dir}.lock`, { timeoutMs: 0, what: `network ${cfg.spec.name}` }))
    if (!(await readState(dir))) await rm(dir, { recursive: true, force: true })
  } catch (err) {
    // Another process is bringing the network up or applying to it: what is there is its, not abandoned.
    if (!(err instanceof BusyError)) throw err
  } finally {
    // The bring-up lock's holder always removes it; the network's lock goes when there is no network.
    const [bringUp, network] = locks
    network?.release({ remove: !existsSync(dir) })
    bringUp?.release({ remove: true })
    await removeEmptyParents(dir)
  }
}
