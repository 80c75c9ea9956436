/**
 * The container's namespace (CNI_NETNS) as the plugin may use it: a network namespace file (on nsfs),
 * and not the namespace the network itself runs in — configuring that as a container would give the host
 * the pod's interface, address and default route. Namespaces are compared by identity (dev and inode of
 * the nsfs file), whatever path names them. ADD and CHECK refuse anything else; DEL and GC, best effort,
 * treat it as a container namespace that is gone (an unmounted pin, a directory, /dev/null).
 */
import { statfsSync, statSync } from 'node:fs'
import { isNotFound } from '../errors.js'
import { Netns } from '../netns/index.js'
import type { CniNetworkSpec } from './config.js'
import { CniCode, CniError } from './errors.js'

/** statfs f_type of nsfs (linux/magic.h NSFS_MAGIC): the file system of every namespace file. */
const NSFS_MAGIC = 0x6e736673

type Sandbox = { ok: true; ns: Netns } | { ok: false; why: string; code: number }

function identity(path: string): string {
  const s = statSync(path)
  return `${s.dev}:${s.ino}`
}

/** The namespace the network runs in: the spec's, else the plugin's own. */
/** The namespace the network runs in: the spec's, else the plugin's own. */
export function networkNs(spec: Pick<CniNetworkSpec, 'netns'>): Netns {
  return spec.netns ? Netns.open(spec.netns) : Netns.current()
}

function networkNsPath(spec: Pick<CniNetworkSpec, 'netns'>): string {
  return networkNs(spec).path
}

/** The identity ("dev:ino", as states record it) of the namespace the network runs in. */
export function networkNsId(spec: Pick<CniNetworkSpec, 'netns'>): string {
  return identity(networkNsPath(spec))
}

function inspect(path: string, spec: Pick<CniNetworkSpec, 'netns' | 'name'>): Sandbox {
  let type: number
  try {
    type = statfsSync(path).type
  } catch (err) {
    // Any reason it cannot be looked at (ENOENT, ENOTDIR, EACCES) means there is no namespace to act in.
    const why = isNotFound(err) ? 'does not exist' : `cannot be read (${(err as Error).message})`
    return { ok: false, code: CniCode.UnknownContainer, why: `CNI_NETNS ${path} ${why}` }
  }
  if (type !== NSFS_MAGIC) return { ok: false, code: CniCode.UnknownContainer, why: `CNI_NETNS ${path} is not a network namespace (an unmounted or deleted one?)` }
  if (identity(path) === identity(networkNsPath(spec)))
    return { ok: false, code: CniCode.InvalidEnvironment, why: `CNI_NETNS ${path} is the namespace network ${spec.name} runs in, not a container's` }
  return { ok: true, ns: Netns.open(path) }
}

/** ADD, CHECK: the container's namespace, or a CNI error (3 not a namespace, 4 the network's own). */
export function containerNs(path: string, spec: Pick<CniNetworkSpec, 'netns' | 'name'>): Netns {
  const s = inspect(path, spec)
  if (!s.ok) throw new CniError(s.code, s.code === CniCode.UnknownContainer ? 'container namespace not found' : 'invalid environment variables', s.why)
  return s.ns
}

/** DEL, GC: the container's namespace if it is still one to act in, else undefined. */
export function containerNsIfThere(path: string | undefined, spec: Pick<CniNetworkSpec, 'netns' | 'name'>): Netns | undefined {
  if (!path) return undefined
  const s = inspect(path, spec)
  return s.ok ? s.ns : undefined
}
