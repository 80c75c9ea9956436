/**
 * The other networks recorded for a namespace, as an apply's checks need them (name, spec, namespace
 * identity): every `up` checks its link names, forwards and subnets against each of them. Read, parsed,
 * validated and hashed afresh, a hundred networks in one namespace made their hundred ups read ~5000 state
 * files — a quarter of everything the ups allocated, garbage whose scavenges' survivors grew V8's young
 * generation (issue 21, RSS). A file is read again only when its identity changes: kvmnet writes state by
 * rename (a new inode each time), and any other write to it moves its ctime, so (inode, size, mtime,
 * ctime) stands for one content. A file that changes between the stat and the read is read again next
 * time (the identity kept is the one stat'ed before the read).
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { StateError } from '../errors.js'
import { dirEntriesSync } from '../util/index.js'
import { readStateSync, type NetworkState } from './state.js'

/** What an apply's checks read of another network. Shared between applies: never to be modified. */
export type OtherNetwork = Readonly<Pick<NetworkState, 'name' | 'spec' | 'netnsId'>>

interface Known {
  ino: number
  size: number
  mtimeMs: number
  ctimeMs: number
  /** Undefined for a file that is not a readable state (listStates reports it; the checks skip it). */
  net: OtherNetwork | undefined
}

/** By namespace directory, then network directory name; each listing keeps only what it found. */
const byLabel = new Map<string, Map<string, Known>>()
/** Namespaces remembered at most (the oldest listed goes first): a long-lived process sees namespaces come and go. */
const LABELS = 64

/**
 * Every readable network state in `root/label` but `except`'s, in directory order, as listStates(root,
 * label) reads them (lock files and the namespace's own JSON bookkeeping skipped).
 */
export function otherNetworks(root: string, label: string, except: string): OtherNetwork[] {
  const dir = join(root, label)
  // Paths by concatenation below: path.join normalising the same prefix for every network of every up
  // was a third of what this listing allocated.
  const before = byLabel.get(dir)
  const now = new Map<string, Known>()
  const out: OtherNetwork[] = []
  for (const name of dirEntriesSync(dir)) {
    // The applying network's own directory too: its state is the apply's to write, not a check's to read.
    if (name === except || name.endsWith('.lock') || name.endsWith('.json')) continue
    const known = identify(`${dir}/${name}`, before?.get(name))
    if (!known) continue
    now.set(name, known)
    if (known.net && known.net.name !== except) out.push(known.net)
  }
  byLabel.delete(dir)
  byLabel.set(dir, now)
  if (byLabel.size > LABELS) byLabel.delete(byLabel.keys().next().value as string)
  return out
}

/** The file's entry: `had` while its identity is unchanged, else read afresh; undefined when it is gone. */
function identify(netDir: string, had: Known | undefined): Known | undefined {
  let st
  try {
    st = statSync(`${netDir}/network.json`, { throwIfNoEntry: false })
  } catch (err) {
    // A stray file beside the network directories, or one this process may not read: listStates reports
    // it as unreadable, and it has nothing to check against.
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOTDIR' || code === 'EACCES') return undefined
    throw err
  }
  if (!st) return undefined
  if (had && had.ino === st.ino && had.size === st.size && had.mtimeMs === st.mtimeMs && had.ctimeMs === st.ctimeMs) return had
  return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, net: read(netDir) }
}

function read(netDir: string): OtherNetwork | undefined {
  let state: NetworkState | undefined
  try {
    state = readStateSync(netDir)
  } catch (err) {
    // Unreadable or invalid: listStates names it to status, gc and doctor; it has nothing to check against.
    if (err instanceof StateError) return undefined
    throw err
  }
  return state && Object.freeze({ name: state.name, spec: state.spec, netnsId: state.netnsId })
}
