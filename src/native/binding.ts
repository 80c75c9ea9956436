/**
 * The shape of the compiled addon (native/src). Raw: its failures are plain Errors carrying
 * errno/code/syscall/path; use `native` from ./index.js, which turns them into SystemError.
 */

export type TapMode = 'tap' | 'tun'

export interface NativeTapOptions {
  /** Interface name; may contain one `%d` for the kernel to number. */
  name: string
  mode: TapMode
  /** 1..256; above 1 the device is multi-queue and one fd is opened per queue. */
  queues: number
  vnetHdr: boolean
  persist: boolean
  owner?: number | undefined
  group?: number | undefined
}

export interface NativeTap {
  /** The name the kernel gave the device (a `%d` filled in). */
  name: string
  /** One fd per queue, close-on-exec, owned by the caller. */
  fds: number[]
  /** The device outlives its fds: made so now, or an existing persistent device was attached to. */
  persistent: boolean
}

/** Kernel constants from the headers the addon was compiled against. */
export interface NativeConstants {
  readonly SOL_SOCKET: number
  readonly SO_RCVBUF: number
  readonly SO_SNDBUF: number
  readonly SO_RCVBUFFORCE: number
  readonly SO_SNDBUFFORCE: number
  readonly SOL_NETLINK: number
  readonly NETLINK_ROUTE: number
  readonly NETLINK_NETFILTER: number
  readonly NETLINK_CAP_ACK: number
  readonly NETLINK_EXT_ACK: number
  readonly NETLINK_GET_STRICT_CHK: number
  readonly NETLINK_NO_ENOBUFS: number
  readonly CLONE_NEWNET: number
  readonly MNT_DETACH: number
  readonly IFF_TUN: number
  readonly IFF_TAP: number
  readonly IFF_NO_PI: number
  readonly IFF_VNET_HDR: number
  readonly IFF_MULTI_QUEUE: number
}

/** What one libnftables command printed (its output and error buffers) and nft_run_cmd_from_buffer's result. */
export interface NativeNftResult {
  /** 0 on success. */
  rc: number
  output: string
  error: string
}

/**
 * A multicast netlink socket read on the event loop (native/src/netlink_listener.cc): opened and bound in
 * the calling thread's namespace; `start()` begins delivering events to the constructor's callback.
 */
export interface NativeNetlinkListener {
  readonly fd: number
  /** The port id the kernel gave it. */
  readonly port: number
  start(): void
  /** A request to the kernel; its answer arrives as a 'message'. */
  send(msg: Buffer): void
  ref(): void
  unref(): void
  close(): void
}

/** 'message': one datagram; 'overrun': notifications were lost (ENOBUFS); 'error': the socket failed. */
export type NetlinkListenerCallback = (kind: 'message' | 'overrun' | 'error', arg?: Buffer | Error) => void

/**
 * The request socket of src/rtnl/socket.ts (native/src/netlink_socket.cc): datagrams are read into the
 * Buffer given to the constructor, reused for every one; the callback says what arrived.
 */
export interface NativeNetlinkSocket {
  readonly fd: number
  start(): void
  /** The Buffers as one datagram: 0, or the errno of the failed sendmsg. */
  send(buffers: readonly Buffer[]): number
  ref(): void
  unref(): void
  close(): void
}

/**
 * kind 0: a datagram of n bytes is in the buffer's first n; 1: a datagram of n bytes did not fit the buffer
 * and is lost; 2: the kernel dropped datagrams (ENOBUFS); 3: the socket failed with errno n.
 */
export type NetlinkSocketCallback = (kind: 0 | 1 | 2 | 3, n: number) => void

export interface NativeBinding {
  /** `ip netns add`: a new namespace bind-mounted on `path` (EEXIST when the file exists). */
  netnsCreate(path: string): void
  /** `ip netns del`: detach the mount and remove the file. */
  netnsDelete(path: string): void
  /** Calls fn with the calling thread inside the namespace at `path`; always switches back. */
  withNetns<T>(path: string, fn: () => T): T
  /** This process's AF_NETLINK socket of `protocol` bound to `portId`, or -1. */
  findNetlinkFd(portId: number, protocol: number): number
  setsockoptInt(fd: number, level: number, optname: number, value: number): void
  /**
   * Makes the kernel fill a netlink socket's dump datagrams up to ~32 KiB (one 32 KiB read of an ack it
   * provokes and consumes), where a reader that reads each datagram's exact size would keep them ~4 KiB.
   */
  netlinkWidenDumps(fd: number): void
  /**
   * Sends one netlink datagram on a duplicate of `fd` from a libuv pool thread (the kernel carries a
   * request out inside sendmsg; a link delete waits there for an RCU barrier). Settles once sendmsg has
   * returned; the replies are read from the socket as usual. Optional: a stale prebuild lacks it.
   */
  netlinkSendOffLoop?: (fd: number, datagram: Buffer) => Promise<void>
  /** Sets IFF_UP on `name` in the calling thread's current namespace. */
  ifUp(name: string): void
  /**
   * Creates a tun/tap device in the namespace at nsPath (the current one for null), or attaches to an
   * existing persistent one of that name; an attached device is never removed by a rollback.
   */
  tapCreate(nsPath: string | null, opts: NativeTapOptions): NativeTap
  /** All or nothing: on a failure the earlier devices of the batch are undone; the error has `index`. */
  tapCreateMany(nsPath: string | null, opts: readonly NativeTapOptions[]): NativeTap[]
  tapSetPersist(fd: number, persist: boolean): void
  /**
   * One RTM_GETLINK per named link of the namespace at nsPath, the replies dropped: the kernel applies
   * each device's pending carrier change to its operational state at once (see native/src/tap_settle.cc).
   * Optional: a stale prebuild lacks it.
   */
  tapSettle?: (nsPath: string | null, names: readonly string[]) => void
  closeFd(fd: number): void
  /** One non-blocking flock(2) attempt: true when taken, false when another open file description holds it. */
  flockTry(fd: number, exclusive: boolean): boolean
  /**
   * dlopen()s libnftables from `path` (a soname or a file) unless it is loaded already: null when it is
   * usable, else dlerror's text. No link-time dependency: a host without the library still loads the addon.
   */
  nftLoad(path: string): string | null
  /**
   * nftLoad on the libuv pool: the dlopen (~2-3 ms of mmaps and page faults) off the calling thread. A later
   * nftLoad of the same library finds it loaded. Optional: a stale prebuild lacks it.
   */
  nftLoadAsync?: (path: string) => Promise<string | null>
  /**
   * Runs one nft command (JSON, as `nft -j` takes it) inside the namespace at `nsPath`, on that namespace's
   * own thread with its reused nft context; never on the calling thread. Rejects only when it could not run.
   */
  nftRun(nsPath: string, command: string): Promise<NativeNftResult>
  /** The namespace's nft thread (if any) frees its context and exits once its queue is done. */
  nftRelease(nsPath: string): void
  /**
   * glibc's malloc_trim(0) on the libuv pool: true when memory was given back. Optional: an addon built
   * before it (a stale prebuild) lacks it. Does nothing without glibc.
   */
  mallocTrim?: () => Promise<boolean>
  /**
   * SHA-256 of a string (its UTF-8 bytes, as node:crypto's update(string)) or of bytes: the 32-byte digest.
   * Optional: an addon built before it (a stale prebuild) lacks it; src/util/sha256.ts falls back.
   */
  sha256?: (data: string | Uint8Array) => Buffer
  /**
   * _exit(2) with the code: the process ends without Node's teardown (src/native/fast-exit.ts). Optional:
   * an addon built before it (a stale prebuild) lacks it.
   */
  exitNow?: (code: number) => never
  NetlinkListener: new (protocol: number, onEvent: NetlinkListenerCallback) => NativeNetlinkListener
  /** Optional: an addon built before it (a stale prebuild) lacks it; the `netlink` package's socket is used then. */
  NetlinkSocket?: new (protocol: number, port: number, buffer: Buffer, onEvent: NetlinkSocketCallback) => NativeNetlinkSocket
  readonly constants: NativeConstants
}
