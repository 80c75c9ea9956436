/**
 * The native addon, typed, with its failures as SystemError. Loaded on first use, so importing kvmnet
 * on a machine without the binary only fails when a native operation is actually needed.
 */
import type { NativeBinding, NativeConstants, NativeNetlinkListener, NativeNetlinkSocket, NativeNftResult, NativeTap, NativeTapOptions, NetlinkListenerCallback, NetlinkSocketCallback } from './binding.js'
import { mapNativeError } from './errors.js'
import { loadBinding, loadBindingIfPossible } from './load.js'

export type { NativeBinding, NativeConstants, NativeNetlinkListener, NativeNetlinkSocket, NativeNftResult, NativeTap, NativeTapOptions, NetlinkListenerCallback, NetlinkSocketCallback, TapMode } from './binding.js'
export { BatchItemError, mapNativeError } from './errors.js'
export { findPackageRoot, loadBinding, loadBindingIfPossible } from './load.js'
export { IDLE_MS, asOperation, idleTrimState } from './idle-trim.js'
export { installFastExit } from './fast-exit.js'

/**
 * A request socket of kvmnet's own (native/src/netlink_socket.cc) in the calling thread's namespace, or
 * undefined when the addon predates it. Failures (EADDRINUSE among them) as SystemError.
 */
export function openNetlinkSocket(protocol: number, port: number, buffer: Buffer, onEvent: NetlinkSocketCallback): NativeNetlinkSocket | undefined {
  const Socket = loadBinding().NetlinkSocket
  if (typeof Socket !== 'function') return undefined
  try {
    return new Socket(protocol, port, buffer, onEvent)
  } catch (err) {
    throw mapNativeError(err)
  }
}

/** Whether the addon can send a netlink datagram from a pool thread (a stale prebuild cannot). */
export function canSendNetlinkOffLoop(): boolean {
  return typeof loadBindingIfPossible()?.netlinkSendOffLoop === 'function'
}

function call<T>(run: (b: NativeBinding) => T): T {
  const binding = loadBinding()
  try {
    return run(binding)
  } catch (err) {
    throw mapNativeError(err)
  }
}

export const native: NativeBinding = {
  netnsCreate: (path) => call((b) => b.netnsCreate(path)),
  netnsDelete: (path) => call((b) => b.netnsDelete(path)),
  withNetns<T>(path: string, fn: () => T): T {
    // Errors of fn itself pass through untouched, even when they look like native ones (fn may well
    // call the raw addon); only failures of the switch are mapped.
    if (typeof fn !== 'function') throw new TypeError('fn must be a function')
    let thrown: { error: unknown } | undefined
    try {
      return loadBinding().withNetns(path, () => {
        try {
          return fn()
        } catch (error) {
          thrown = { error }
          throw error
        }
      })
    } catch (err) {
      if (thrown && thrown.error === err) throw err
      throw mapNativeError(err)
    }
  },
  findNetlinkFd: (portId, protocol) => call((b) => b.findNetlinkFd(portId, protocol)),
  setsockoptInt: (fd, level, optname, value) => call((b) => b.setsockoptInt(fd, level, optname, value)),
  netlinkWidenDumps: (fd) =>
    call((b) => {
      // Only an optimisation: an addon built before it existed (a stale prebuild) keeps small datagrams.
      if (typeof b.netlinkWidenDumps === 'function') b.netlinkWidenDumps(fd)
    }),
  async netlinkSendOffLoop(fd: number, datagram: Buffer): Promise<void> {
    try {
      const b = loadBinding()
      if (typeof b.netlinkSendOffLoop !== 'function') throw new TypeError('this build of the kvmnet addon has no netlinkSendOffLoop')
      await b.netlinkSendOffLoop(fd, datagram)
    } catch (err) {
      throw mapNativeError(err)
    }
  },
  ifUp: (name) => call((b) => b.ifUp(name)),
  tapCreate: (nsPath: string | null, opts: NativeTapOptions): NativeTap => call((b) => b.tapCreate(nsPath, opts)),
  tapCreateMany: (nsPath: string | null, opts: readonly NativeTapOptions[]): NativeTap[] =>
    call((b) => b.tapCreateMany(nsPath, opts)),
  tapSetPersist: (fd, persist) => call((b) => b.tapSetPersist(fd, persist)),
  tapSettle: (nsPath, names) =>
    call((b) => {
      // Only an optimisation (a bridge raised with unsettled ports does more work): a stale prebuild skips it.
      if (typeof b.tapSettle === 'function') b.tapSettle(nsPath, names)
    }),
  closeFd: (fd) => call((b) => b.closeFd(fd)),
  flockTry: (fd, exclusive) => call((b) => b.flockTry(fd, exclusive)),
  nftLoad: (path) => call((b) => b.nftLoad(path)),
  async nftRun(nsPath: string, command: string): Promise<NativeNftResult> {
    try {
      return await call((b) => b.nftRun(nsPath, command))
    } catch (err) {
      throw mapNativeError(err)
    }
  },
  nftRelease: (nsPath) => call((b) => b.nftRelease(nsPath)),
  mallocTrim: async () => {
    const b = loadBinding()
    return typeof b.mallocTrim === 'function' ? b.mallocTrim() : false
  },
  sha256: (data) => call((b) => {
    if (typeof b.sha256 !== 'function') throw new TypeError('this build of the kvmnet addon has no sha256')
    return b.sha256(data)
  }),
  NetlinkListener: class {
    constructor(protocol: number, onEvent: NetlinkListenerCallback) {
      const l = call((b) => new b.NetlinkListener(protocol, onEvent))
      // Every failure of its methods as SystemError, like the functions'.
      return {
        get fd() {
          return l.fd
        },
        get port() {
          return l.port
        },
        start: () => call(() => l.start()),
        send: (msg: Buffer) => call(() => l.send(msg)),
        ref: () => l.ref(),
        unref: () => l.unref(),
        close: () => l.close(),
      } satisfies NativeNetlinkListener
    }
  } as NativeBinding['NetlinkListener'],
  get constants(): NativeConstants {
    return loadBinding().constants
  },
}
