/**
 * Network namespace handles. Named namespaces are files under /run/netns with the namespace
 * bind-mounted on them (the iproute2 convention), so `ip netns`, `nsenter --net=` and kvmnet all see
 * the same set.
 */
import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { KvmnetError, NotFoundError, SpecError, isExists, isNotFound } from '../errors.js'
import { native } from '../native/index.js'
import { NETNS_DIR, netnsPath, randomNetnsName, validateNetnsName } from './name.js'
import type { NetnsRef } from './ref.js'

export interface NetnsCreateOptions {
  /** Name under /run/netns; a unique `${prefix}-xxxxxxxx` when omitted. */
  name?: string
  /** Prefix of generated names (default 'kvmnet'). */
  prefix?: string
}

const NAME_ATTEMPTS = 8

export class Netns implements NetnsRef {
  readonly name?: string
  readonly path: string
  readonly isCurrent: boolean
  /** True for handles from create(): only those delete the namespace when disposed. */
  readonly #owned: boolean

  private constructor(init: { path: string; name?: string; isCurrent?: boolean; owned?: boolean }) {
    if (init.name !== undefined) this.name = init.name
    this.path = init.path
    this.isCurrent = init.isCurrent ?? false
    this.#owned = init.owned ?? false
  }

  /** A new namespace with `lo` up. EEXIST (SystemError) when a given name is taken. */
  static async create(opts: NetnsCreateOptions = {}): Promise<Netns> {
    if (opts.name !== undefined) return Netns.#createNamed(validateNetnsName(opts.name, 'name'))
    const prefix = opts.prefix ?? 'kvmnet'
    validateNetnsName(prefix, 'prefix')
    for (let attempt = 1; ; attempt++) {
      try {
        return Netns.#createNamed(randomNetnsName(prefix))
      } catch (err) {
        if (!isExists(err) || attempt >= NAME_ATTEMPTS) throw err
      }
    }
  }

  static #createNamed(name: string): Netns {
    const path = netnsPath(name)
    native.netnsCreate(path)
    const ns = new Netns({ path, name, owned: true })
    try {
      // A namespace starts with lo down; nearly everything (dnsmasq, 127.0.0.1 probes) expects it up.
      ns.runSync(() => native.ifUp('lo'))
    } catch (err) {
      try {
        native.netnsDelete(path)
      } catch (undo) {
        throw new KvmnetError(`bringing lo up in ${name} failed, and so did removing it again`, {
          cause: new AggregateError([err, undo]),
        })
      }
      throw err
    }
    return ns
  }

  /** A handle on an existing namespace: a name under /run/netns, or any namespace file path. */
  static open(nameOrPath: string): Netns {
    const byPath = typeof nameOrPath === 'string' && nameOrPath.includes('/')
    const path = byPath ? nameOrPath : netnsPath(validateNetnsName(nameOrPath, 'name'))
    if (!existsSync(path)) throw new NotFoundError(`network namespace ${nameOrPath}`)
    const name = path.startsWith(`${NETNS_DIR}/`) ? path.slice(NETNS_DIR.length + 1) : undefined
    return new Netns({ path, ...(name && !name.includes('/') ? { name } : {}) })
  }

  /**
   * The namespace of the Node process itself. Its path names the main thread's task explicitly, because
   * /proc/self/ns/net would follow whichever thread looks.
   */
  static current(): Netns {
    return new Netns({ path: `/proc/${process.pid}/task/${process.pid}/ns/net`, isCurrent: true })
  }

  /** Names under /run/netns, sorted. */
  static async list(): Promise<string[]> {
    try {
      return (await readdir(NETNS_DIR)).sort()
    } catch (err) {
      if (isNotFound(err)) return []
      throw err
    }
  }

  /** Runs fn with this thread inside the namespace: for sockets and fds that must belong to it. */
  runSync<T>(fn: () => T): T {
    if (this.isCurrent) return fn()
    return native.withNetns(this.path, fn)
  }

  /** Removes a namespace under /run/netns (like `ip netns del`). Deleting one already gone is a no-op. */
  async delete(): Promise<void> {
    if (this.isCurrent || this.name === undefined) {
      throw new SpecError('path', `only namespaces under ${NETNS_DIR} can be deleted, not ${this.path}`)
    }
    try {
      native.netnsDelete(this.path)
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#owned) await this.delete()
  }
}
