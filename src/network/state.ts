/**
 * What a network's apply created, on disk under /run/kvmnet/<namespace>/<network>/network.json, so that
 * `down`, `status` and `gc` work from another process or after a crash of the one that built it.
 * /run is a tmpfs: state does not outlive a reboot, and neither do the links it describes.
 */
import { readdir, rm, rmdir, unlink } from 'node:fs/promises'
import type { Dirent } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { NotFoundError, StateError, ignoreNotFound } from '../errors.js'
import { BoundedMemo, dirEntries, dirEntriesSync } from '../util/index.js'
import { NETNS_DIR, type NetnsRef } from '../netns/index.js'
import { fieldPath, s, type Issue } from '../schema/index.js'
import { specSchema, type NetworkSpec } from './spec.js'
import type { NetworkRules } from '../nft/index.js'
import type { CoexistRecord } from '../coexist/index.js'
import { processStartTime } from '../util/index.js'
import type { ProcessIdentity } from '../dnsmasq/index.js'

export const DEFAULT_STATE_ROOT = '/run/kvmnet'

export interface MovedAddress {
  cidr: string
  family: 4 | 6
}

export interface MovedRoute {
  dst: string
  gateway?: string | undefined
  table?: number | undefined
  metric?: number | undefined
  prefsrc?: string | undefined
  scope?: number | undefined
  protocol?: number | undefined
  family: 4 | 6
}

/** Keys of runtime additions: port names, forward keys (proto/port/address), reservation MACs, vxlan peers. */
export interface RuntimeAdditions {
  ports: string[]
  forwards: string[]
  reservations: string[]
  /** Canonical addresses; absent in states written before vxlan existed. */
  peers?: string[] | undefined
  /** Those that live attachments (kvmnet-cni) hold: see HeldAdditions. */
  held?: HeldAdditions | undefined
}

/**
 * Runtime additions a live attachment holds (kvmnet-cni's pods): every full `up` keeps them, with prune
 * or without (they are put back from the recorded spec when the new one lacks them), until their holder
 * releases them — an operator's `up --prune` of the original spec does not cut a running pod off.
 */
export interface HeldAdditions {
  /** MACs of reservations (ipv4.dhcp.hosts). */
  reservations: string[]
  /** Forward keys (proto/port[@address]). */
  forwards: string[]
  /** DNS records (dns.hosts) as `name=ip`. */
  dnsHosts: string[]
}

/** bridge mode with adoptManagedInterface: the NIC's managers kvmnet took over, to give back on down. */
export interface HandedOver {
  nic: string
  /** DHCP clients stopped on the NIC (their command line, to restart) and the one kvmnet runs on the bridge. */
  dhcpClients: { program: string; argv: string[]; bridge?: ProcessIdentity | undefined }[]
  /** NetworkManager was told to leave the NIC alone (`nmcli device set NIC managed no`). */
  networkManager: boolean
}

export interface NetworkState {
  version: 1
  name: string
  /** Path of the namespace file the network lives in. */
  netnsPath: string
  netnsName?: string | undefined
  /** The namespace's identity ("dev:ino" of its file) when the network was created. */
  netnsId: string
  spec: NetworkSpec
  bridge?: string | undefined
  group: number
  /** bridge mode: what was moved from the NIC to the bridge, to put back on down. */
  nic?: { name: string; mac: string; mtu: number; addresses: MovedAddress[]; routes: MovedRoute[]; wasUp: boolean; handedOver?: HandedOver | undefined } | undefined
  /**
   * Sysctls changed, with the value before: states written before the namespace's sysctl ledger
   * (sysctl-ledger.ts) kept them here. Read for nothing now; accepted so such a state still opens.
   */
  sysctls?: { key: string; before: string }[] | undefined
  /** `ifindex`: the bridge dnsmasq was started on; a bridge recreated since leaves dnsmasq on a dead index. */
  dnsmasq?: { stateDir: string; detached: boolean; ifindex?: number | undefined } | undefined
  /** Hash of the last applied nft document: re-applying the same rules is skipped. */
  nftHash?: string | undefined
  /** The rules last applied (uplink resolved), to put back if a later apply fails. */
  nftRules?: NetworkRules | undefined
  /** Hash of the address-learning table last applied (steps/learning.ts): the same table is not replaced. */
  learnHash?: string | undefined
  /** What kvmnet added to other firewalls of the namespace (Docker's DOCKER-USER, ufw, firewalld), to remove on down. */
  coexist?: CoexistRecord | undefined
  /** What addPort/addForward/addReservation/addPeer added at runtime: a later full `up` removes them only with prune. */
  runtime?: RuntimeAdditions | undefined
  /** Set while an apply runs (cleared when it completes): a dead applier means a partial apply to finish. */
  applying?: { pid: number; startTime: string; since: string } | undefined
  /** The process supervising this network (kvmnet up --foreground, or an API user), if any. */
  owner?: { pid: number; startTime: string } | undefined
  createdAt: string
  /** Per-step timings of the last apply, for `status --json` and harnesses that did not watch the events. */
  lastApply?: { at: string; totalMs: number; steps: { step: string; category: string; ms: number; outcome: string }[] } | undefined
}

export function stateDirFor(root: string, nsLabel: string, network: string): string {
  return join(root, nsLabel, network)
}

/**
 * "dev:ino" of a namespace: its identity, whatever path names it (/run/netns/x, ../../run/netns/x,
 * /proc/PID/ns/net). Undefined when the file is gone (the namespace was deleted, or the name removed).
 */
export function netnsIdentity(ns: NetnsRef): string | undefined {
  try {
    const s = statSync(ns.path)
    return `${s.dev}:${s.ino}`
  } catch (err) {
    // Gone is an answer; anything else (EACCES) is not "deleted", and deciding so would let gc collect it.
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw err
  }
}

/**
 * The state directory label of a namespace: `ns-<dev>-<ino>`, so every spelling of its path leads to one
 * state location (two locations for one namespace would let one network's rollback remove another's).
 */
export function stateLabel(ns: NetnsRef): string {
  const id = netnsIdentity(ns)
  if (!id) throw new NotFoundError(`network namespace ${ns.name ?? ns.path}`)
  return `ns-${id.replace(':', '-')}`
}

/**
 * Paths that lead to a namespace for as long as it lives, whoever asks: PID 1's (the host's) and the named
 * ones under /run/netns. A process's own /proc/PID/… path dies with it while its namespace lives on.
 */
function lastingPaths(): { path: string; name?: string }[] {
  return [{ path: '/proc/1/ns/net' }, ...dirEntriesSync(NETNS_DIR).sort().map((name) => ({ path: `${NETNS_DIR}/${name}`, name }))]
}

/** The lasting path to the namespace of identity `id`, if any (one this process may not look at leads nowhere). */
function lastingPathTo(id: string): { path: string; name?: string } | undefined {
  return lastingPaths().find((p) => {
    try {
      return netnsIdentity({ path: p.path, isCurrent: false }) === id
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EACCES') return false
      throw err
    }
  })
}

/**
 * A path to `ns` (of identity `id`) that outlives this process, for the state other processes read. The
 * current namespace's own path is /proc/PID/…: recorded as such, a later `kvmnet gc` or `status` found it
 * gone and took the live network for an orphan (gc destroyed it). An unnamed namespace that no lasting
 * path leads to keeps the path given: nothing else could reach it anyway.
 */
export function lastingNs(ns: NetnsRef, id: string): { path: string; name?: string | undefined } {
  if (!ns.path.startsWith('/proc/')) return { path: ns.path, name: ns.name }
  return lastingPathTo(id) ?? { path: ns.path, name: ns.name }
}

/**
 * Where the namespace a state was written in can be reached now: its recorded path while that still leads
 * to it, else a lasting path that does (a state recorded /proc/PID/… of a process long gone, before
 * lastingNs); undefined when the namespace is gone.
 */
export function namespacePath(state: Pick<NetworkState, 'netnsPath' | 'netnsId'>): string | undefined {
  if (netnsIdentity({ path: state.netnsPath, isCurrent: false }) === state.netnsId) return state.netnsPath
  if (!state.netnsPath.startsWith('/proc/')) return undefined
  return lastingPathTo(state.netnsId)?.path
}

/** Whether the namespace a state was written in is still there (see namespacePath). */
export function namespaceAlive(state: Pick<NetworkState, 'netnsPath' | 'netnsId'>): boolean {
  return namespacePath(state) !== undefined
}

/**
 * The parts of a state file every reader relies on; the spec is checked by the spec's own schema. Defined
 * on the first read, like the spec's (spec-schema.ts): loading kvmnet builds no schema.
 */
let stateSchemaDefined: ReturnType<typeof defineStateSchema> | undefined
const stateSchema = () => (stateSchemaDefined ??= defineStateSchema())
const defineStateSchema = () => s.object({
  version: s.number({ int: true, min: 1, max: 1 }),
  name: s.string(),
  netnsPath: s.string(),
  netnsName: s.string().optional(),
  netnsId: s.string(),
  spec: specSchema,
  bridge: s.string().optional(),
  group: s.int(1, 0xffffffff),
  nic: s.unknown().optional(),
  sysctls: s.array(s.object({ key: s.string(), before: s.string() })).optional(),
  dnsmasq: s.object({ stateDir: s.string(), detached: s.boolean(), ifindex: s.int(1, 0x7fffffff).optional() }).optional(),
  nftHash: s.string().optional(),
  nftRules: s.unknown().optional(),
  learnHash: s.string().optional(),
  coexist: s.unknown().optional(),
  owner: s.object({ pid: s.int(1, 0x7fffffff), startTime: s.string() }).optional(),
  runtime: s.object({ ports: s.array(s.string()), forwards: s.array(s.string()), reservations: s.array(s.string()), peers: s.array(s.string()).optional(),
    held: s.object({ reservations: s.array(s.string()), forwards: s.array(s.string()), dnsHosts: s.array(s.string()) }).optional(),
  }).optional(),
  applying: s.object({ pid: s.int(1, 0x7fffffff), startTime: s.string(), since: s.string() }).optional(),
  createdAt: s.string(),
  lastApply: s.unknown().optional(),
})

/**
 * State texts already checked against the schema, by digest: every apply reads the state of each other
 * network in its namespace, and checking them all again was O(n²) over a hundred ups (most of what they
 * allocated). A text that differs in any byte is checked afresh; the bound is far above a host's networks.
 */
const checkedStates = new BoundedMemo<true>(1024)

/** The state of the network in `dir`; undefined when there is none; StateError naming the file when it is corrupt. */
export async function readState(dir: string): Promise<NetworkState | undefined> {
  return readStateSync(dir)
}

/** readState, for callers that read many in a row without awaiting each (other-states.ts). */
export function readStateSync(dir: string): NetworkState | undefined {
  const path = join(dir, 'network.json')
  let text: string
  try {
    // Synchronous, like its write below: a few KB under /run, where each trip through libuv's thread pool
    // and back cost milliseconds of the apply on a loaded host for microseconds of work.
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    throw new StateError(path, `cannot be read (${code ?? (err as Error).message})`)
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new StateError(path, `not valid JSON (${(err as Error).message})`)
  }
  const key = BoundedMemo.keyOf(text)
  if (!checkedStates.get(key)) {
    const issues: Issue[] = []
    if (!stateSchema().check(data, [], issues)) {
      const first = issues[0]
      throw new StateError(path, first?.message ?? 'not a kvmnet state file', first ? fieldPath(first.path) : undefined)
    }
    checkedStates.set(key, true)
  }
  // A directory is its network's (stateDirFor): a state of another network there would have down and gc
  // act on that network's links and rules. Checked per read, as the memo above is by text, not by file.
  const state = data as NetworkState
  const network = basename(dir)
  if (state.name !== network) throw new StateError(path, `is the state of ${JSON.stringify(state.name)}, in the directory of ${network}`, 'name')
  if (state.spec.name !== network) throw new StateError(path, `is a spec of ${JSON.stringify(state.spec.name)}, in the directory of ${network}`, 'spec.name')
  return state
}

/** Written to a temporary file and renamed, so a crash never leaves half a state file. */
export async function writeState(dir: string, state: NetworkState): Promise<void> {
  const tmp = join(dir, `.network.json.${process.pid}`)
  const text = JSON.stringify(state, null, 2)
  // Created exclusively: never written through a link planted at the temporary name. The directory is
  // made only when it is missing (a first apply): every journal write of an apply made it again (a mkdir
  // and a stat on a disk file system, each time).
  const create = (): void => writeFileSync(tmp, text, { flag: 'wx' })
  try {
    create()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') mkdirSync(dir, { recursive: true, mode: 0o755 })
    else if (code === 'EEXIST') rmSync(tmp, { force: true })
    else throw err
    create()
  }
  renameSync(tmp, join(dir, 'network.json'))
}

export async function removeState(dir: string, opts: { parents?: boolean } = {}): Promise<void> {
  // Not synchronously, unlike the reads and writes: removing directories on a disk file system (a /run that
  // is not tmpfs) waits for its journal, measured 1-5 ms per rmdir on a loaded host — time the event loop
  // of a process looking after other networks is not to be held for.
  await removeFlatDir(dir)
  // parents false: the caller holds the network's lock, whose file beside `dir` keeps them (it removes
  // them itself after the lock file).
  if (opts.parents !== false) await removeEmptyParents(dir)
}

/**
 * `rm -r` of a network's directory in three trips through the thread pool — list it, unlink its files at
 * once, rmdir — where fs.rm takes six one after the other (lstat, rmdir, readdir, lstat, unlink, rmdir):
 * on a loaded host each trip is a millisecond of `down`. It holds files only; anything else (a
 * subdirectory, or a file that appeared meanwhile) is left to fs.rm.
 */
async function removeFlatDir(dir: string): Promise<void> {
  let entries: Dirent[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  if (entries.some((e) => !e.isFile())) return rm(dir, { recursive: true, force: true })
  await Promise.all(entries.map((e) => unlink(join(dir, e.name)).catch(ignoreNotFound)))
  try {
    await rmdir(dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * The namespace's directory goes with its last network, and the state root with the last namespace
 * (rmdir only removes empty directories): kvmnet leaves nothing behind in /run.
 */
export async function removeEmptyParents(dir: string): Promise<void> {
  if (await rmdirIfEmpty(dirname(dir))) await rmdirIfEmpty(dirname(dirname(dir)))
}

/** rmdir that answers false where the directory still holds something (another network's) or is gone. */
async function rmdirIfEmpty(dir: string): Promise<boolean> {
  try {
    await rmdir(dir)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT') return false
    throw err
  }
}

/** A network directory whose state file cannot be read: it is someone's, so nothing of it may be collected. */
export interface UnreadableState {
  dir: string
  /** The network's name, from its directory (the file itself cannot say). */
  name: string
  error: StateError
}

export interface StateListing {
  states: { dir: string; state: NetworkState }[]
  unreadable: UnreadableState[]
}

/**
 * Every network with state under root (optionally only in one namespace label). A state file that cannot
 * be read or parsed is listed as unreadable, never dropped: a caller deciding what is live (gc) must treat
 * it as a live network, and one reporting (status, list, doctor) must name it.
 */
export async function listStates(root: string, nsLabel?: string): Promise<StateListing> {
  const out: StateListing = { states: [], unreadable: [] }
  const labels = nsLabel ? [nsLabel] : await dirEntries(root)
  for (const label of labels) {
    // Synchronously (as readState): one directory of small entries, listed on every apply.
    for (const name of dirEntriesSync(join(root, label))) {
      // Lock files and the namespace's own bookkeeping sit beside the network directories.
      if (name.endsWith('.lock') || name.endsWith('.json')) continue
      const dir = join(root, label, name)
      try {
        const state = await readState(dir)
        if (state) out.states.push({ dir, state })
      } catch (err) {
        out.unreadable.push({ dir, name, error: err instanceof StateError ? err : new StateError(join(dir, 'network.json'), String((err as Error).message ?? err)) })
      }
    }
  }
  return out
}

/** The network is gone for good: its namespace deleted, or its state removed (taken down elsewhere). */
export async function networkGone(ns: NetnsRef, stateDir: string): Promise<boolean> {
  return netnsIdentity(ns) === undefined || (await readState(stateDir)) === undefined
}

export async function ownerAlive(owner: NetworkState['owner']): Promise<boolean> {
  if (!owner) return false
  return (await processStartTime(owner.pid)) === owner.startTime
}
