/**
 * One file per attachment in the network's state directory (cni/<container id>:<ifname>.json): what ADD
 * made, so that DEL (also after the container's namespace is gone) and GC (which gets only the valid
 * attachments) know which reservation, forwards and links to remove. Written before the links are made,
 * completed once the address is reserved; the directory goes with the network's state on `down`.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { CniCode, CniError } from './errors.js'
import { join } from 'node:path'
import { recordFileName } from './identity.js'
import { dirEntries, readIfExists } from '../util/index.js'

export interface AttachmentRecord {
  containerId: string
  ifname: string
  netns: string | undefined
  attachment: 'veth' | 'tap'
  mac: string
  hostIfname: string
  ip?: string | undefined
  name?: string | undefined
  /** Forward keys (proto/port[@address]) this attachment added. */
  forwards?: string[] | undefined
  createdAt: string
}

export function recordsDir(stateDir: string): string {
  return join(stateDir, 'cni')
}

/** Marks a network that kvmnet-cni brought up itself (GC may take it down once no attachment is valid). */
export function ownerMarker(stateDir: string): string {
  return join(recordsDir(stateDir), 'brought-up-by-cni')
}

/**
 * Synchronous, like the state's own write: a few hundred bytes under /run, where each of four trips
 * through libuv's thread pool and back cost an ADD more on a loaded host than the writing itself.
 */
export async function writeRecord(stateDir: string, r: AttachmentRecord): Promise<void> {
  const dir = recordsDir(stateDir)
  mkdirSync(dir, { recursive: true, mode: 0o755 })
  const file = join(dir, recordFileName(r))
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, `${JSON.stringify(r, null, 2)}\n`)
  renameSync(tmp, file)
}

export async function readRecord(stateDir: string, key: { containerId: string; ifname: string }): Promise<AttachmentRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(recordsDir(stateDir), recordFileName(key)), 'utf8')) as AttachmentRecord
  } catch {
    return undefined
  }
}

export async function removeRecord(stateDir: string, key: { containerId: string; ifname: string }): Promise<void> {
  await rm(join(recordsDir(stateDir), recordFileName(key)), { force: true })
}

export async function listRecords(stateDir: string): Promise<AttachmentRecord[]> {
  const dir = recordsDir(stateDir)
  const out: AttachmentRecord[] = []
  for (const n of await dirEntries(dir)) {
    if (!n.endsWith('.json')) continue
    // Removed by a DEL running beside this one: that attachment is gone already.
    const text = await readIfExists(join(dir, n))
    if (text === undefined) continue
    try {
      out.push(JSON.parse(text) as AttachmentRecord)
    } catch (err) {
      // A record that cannot be read must not make its attachment look released.
      throw new CniError(CniCode.Internal, 'unreadable attachment record', `${join(dir, n)}: ${(err as Error).message}`)
    }
  }
  return out
}
