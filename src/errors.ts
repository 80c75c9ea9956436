/**
 * Typed errors. Callers branch on classes, `code` and `errno`; nothing in kvmnet (or in its users)
 * should ever have to match message text.
 */
import { constants as osConstants } from 'node:os'

// Built on the first error that needs a name: node:os is not loaded with kvmnet.
let errnoNames: Map<number, string> | undefined

/** 'EEXIST' for 17, 'E123' for numbers Node does not know. */
export function errnoName(errno: number): string {
  const n = Math.abs(errno)
  errnoNames ??= new Map(Object.entries(osConstants.errno).map(([name, value]) => [value, name]))
  return errnoNames.get(n) ?? `E${n}`
}

/** Base class of every error kvmnet throws on purpose. */
export class KvmnetError extends Error {
  override name = 'KvmnetError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

export interface NetlinkErrorInit {
  /** Positive errno from the kernel's NLMSG_ERROR. */
  errno: number
  /** Request type name, e.g. 'RTM_NEWLINK'. */
  op: string
  /** The object the request was about: a link name, an address, a route. */
  object?: string
  /** The kernel's extended-ack message (NLMSGERR_ATTR_MSG), when it gave one. */
  extAck?: string
  cause?: unknown
}

/** The kernel refused an rtnetlink request. */
export class NetlinkError extends KvmnetError {
  override name = 'NetlinkError'
  readonly errno: number
  readonly code: string
  readonly op: string
  readonly object: string | undefined
  readonly extAck: string | undefined
  constructor(init: NetlinkErrorInit) {
    const code = errnoName(init.errno)
    const what = init.object ? ` (${init.object})` : ''
    const ack = init.extAck ? `: ${init.extAck}` : ''
    super(`${init.op}${what} failed with ${code}${ack}`, { cause: init.cause })
    this.errno = Math.abs(init.errno)
    this.code = code
    this.op = init.op
    this.object = init.object
    this.extAck = init.extAck
  }
}

/** A system call in the native addon (or a file operation) failed. */
export class SystemError extends KvmnetError {
  override name = 'SystemError'
  readonly errno: number
  readonly code: string
  readonly syscall: string
  readonly path: string | undefined
  constructor(init: { errno: number; syscall: string; path?: string; message?: string; cause?: unknown }) {
    const code = errnoName(init.errno)
    super(init.message ?? `${init.syscall}${init.path ? ` ${init.path}` : ''} failed with ${code}`, {
      cause: init.cause,
    })
    this.errno = Math.abs(init.errno)
    this.code = code
    this.syscall = init.syscall
    this.path = init.path
  }
}

/** `nft` exited non-zero. `stderr` is nft's own diagnostic. */
export class NftError extends KvmnetError {
  override name = 'NftError'
  readonly exitCode: number | undefined
  readonly stderr: string
  constructor(init: { exitCode: number | undefined; stderr: string; message?: string; cause?: unknown }) {
    super(init.message ?? `nft failed (exit ${init.exitCode ?? 'signal'}): ${firstLine(init.stderr)}`, {
      cause: init.cause,
    })
    this.exitCode = init.exitCode
    this.stderr = init.stderr
  }
}

/**
 * A program kvmnet drives to coexist with another firewall of the namespace (iptables-nft for Docker's
 * DOCKER-USER, ufw, firewall-cmd) failed or could not run. `stderr` is the program's own message.
 */
export class FirewallToolError extends KvmnetError {
  override name = 'FirewallToolError'
  readonly tool: string
  readonly args: readonly string[]
  readonly exitCode: number | undefined
  readonly stderr: string
  constructor(init: { tool: string; args: readonly string[]; exitCode: number | undefined; stderr: string; message?: string; cause?: unknown }) {
    super(init.message ?? `${init.tool} ${init.args.join(' ')} failed (exit ${init.exitCode ?? 'signal'}): ${firstLine(init.stderr)}`, { cause: init.cause })
    this.tool = init.tool
    this.args = [...init.args]
    this.exitCode = init.exitCode
    this.stderr = init.stderr
  }
}

/** dnsmasq failed to start, exited, or could not be adopted. `detail` is dnsmasq's own message. */
export class DnsmasqError extends KvmnetError {
  override name = 'DnsmasqError'
  readonly exitCode: number | undefined
  readonly detail: string
  constructor(init: { exitCode?: number | undefined; detail: string; message?: string; cause?: unknown }) {
    super(init.message ?? `dnsmasq: ${firstLine(init.detail)}`, { cause: init.cause })
    this.exitCode = init.exitCode
    this.detail = init.detail
  }
}

/** Input refused before anything was touched. `field` is a dotted path into the input, e.g. 'ipv4.dhcp.hosts[2].mac'. */
export class SpecError extends KvmnetError {
  override name = 'SpecError'
  readonly field: string
  readonly reason: string
  /** Every problem found, when the input had more than one; the first is also `field`/`reason`. */
  readonly issues: readonly { field: string; reason: string }[]
  constructor(field: string, reason: string, issues?: readonly { field: string; reason: string }[]) {
    const all = issues && issues.length > 0 ? issues : [{ field, reason }]
    const more = all.length > 1 ? ` (and ${all.length - 1} more)` : ''
    super(`${field || '(spec)'}: ${reason}${more}`)
    this.field = field
    this.reason = reason
    this.issues = all
  }
}

/**
 * A `bridge` network's NIC is configured by someone else (a DHCP client, NetworkManager, systemd-networkd,
 * ifupdown), who would fight kvmnet over its addresses. `managers` names each one; the message says how to
 * hand the NIC over, or to set adoptManagedInterface.
 */
export class ManagedInterfaceError extends SpecError {
  override name = 'ManagedInterfaceError'
  readonly interface: string
  readonly managers: readonly string[]
  constructor(field: string, iface: string, managers: readonly string[], hints: readonly string[]) {
    super(field, `${iface} is managed by ${managers.join(' and ')}, which would fight over its addresses once they are on the bridge: ${hints.join('; ')}; or set adoptManagedInterface: true to let kvmnet hand it over and give it back on down`)
    this.interface = iface
    this.managers = managers
  }
}

/** Something a request depends on is not there (a parent link, a network by name, a namespace). */
export class NotFoundError extends KvmnetError {
  override name = 'NotFoundError'
  readonly code = 'ENOENT'
  readonly what: string
  constructor(what: string, message?: string) {
    super(message ?? `${what} not found`)
    this.what = what
  }
}

/** A failure part-way through an apply, and whatever went wrong while undoing it. Never swallowed. */
export class RollbackError extends KvmnetError {
  override name = 'RollbackError'
  readonly rollbackErrors: readonly unknown[]
  constructor(cause: unknown, rollbackErrors: readonly unknown[]) {
    const c = cause instanceof Error ? cause.message : String(cause)
    super(`${c}; rollback also failed: ${rollbackErrors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ')}`, {
      cause,
    })
    this.rollbackErrors = rollbackErrors
  }
}

function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code
}

/** The object already exists (EEXIST). */
export function isExists(err: unknown): boolean {
  return hasCode(err, 'EEXIST')
}

/** The object is not there: ENODEV for links, ESRCH/EADDRNOTAVAIL for routes and addresses, ENOENT otherwise. */
export function isNotFound(err: unknown): boolean {
  return (
    err instanceof NotFoundError ||
    hasCode(err, 'ENODEV') ||
    hasCode(err, 'ENOENT') ||
    hasCode(err, 'ESRCH') ||
    hasCode(err, 'EADDRNOTAVAIL')
  )
}

/**
 * For removing or putting back something that may already be gone (a link deleted with its bridge, a
 * per-interface sysctl whose interface went): not found is the outcome wanted; anything else is thrown.
 */
export function ignoreNotFound(err: unknown): void {
  if (!isNotFound(err)) throw err
}

/**
 * Undo part of an operation that failed, then rethrow its error. An undo that fails as well is reported
 * together with it (RollbackError), never dropped; an undo that finds its object already gone succeeded.
 */
export async function undoThenThrow(cause: unknown, undo: () => Promise<unknown>): Promise<never> {
  try {
    await undo()
  } catch (err) {
    if (!isNotFound(err)) throw new RollbackError(cause, [err])
  }
  throw cause
}

/** Runs every step even when one fails; the failures (a part already gone is none) are thrown together. */
export async function allAttempted(steps: readonly (() => Promise<unknown>)[]): Promise<void> {
  const failed: unknown[] = []
  for (const step of steps) {
    try {
      await step()
    } catch (err) {
      if (!isNotFound(err)) failed.push(err)
    }
  }
  if (failed.length === 1) throw failed[0]
  if (failed.length > 1) throw new AggregateError(failed, `${failed.length} undo steps failed`)
}

/** For adding something that may be there already (an address a DHCP client put back first). */
export function ignoreExists(err: unknown): void {
  if (!isExists(err)) throw err
}

/** The object is busy (EBUSY) — e.g. a NIC already enslaved. */
export function isBusy(err: unknown): boolean {
  return hasCode(err, 'EBUSY')
}

function firstLine(s: string): string {
  const line = s.split('\n').find((l) => l.trim() !== '')
  return (line ?? s).trim()
}

/** A state file kvmnet wrote is unreadable or not what kvmnet writes (a crash mid-write cannot do this: writes are atomic). */
export class StateError extends KvmnetError {
  override name = 'StateError'
  readonly path: string
  readonly field: string | undefined
  constructor(path: string, reason: string, field?: string) {
    super(`${path}: ${field ? `${field}: ` : ''}${reason}`)
    this.path = path
    this.field = field
  }
}

/** Waiting for something (a lease, a lock) took longer than the caller allowed. */
export class TimeoutError extends KvmnetError {
  override name = 'TimeoutError'
  readonly what: string
  readonly ms: number
  constructor(what: string, ms: number) {
    super(`${what}: nothing after ${ms} ms`)
    this.what = what
    this.ms = ms
  }
}

/** An object is in use by a process (a tap QEMU still holds open): refused unless forced. */
export class InUseError extends KvmnetError {
  override name = 'InUseError'
  readonly what: string
  readonly pids: number[]
  constructor(what: string, pids: number[], hint: string) {
    super(`${what} is in use by pid ${pids.join(', ')}; ${hint}`)
    this.what = what
    this.pids = pids
  }
}

/** Another writer holds the network (an apply, converge or teardown under way): nothing was touched. */
export class BusyError extends KvmnetError {
  override name = 'BusyError'
  readonly what: string
  /** The holder's pid as it wrote it in the lock file (informational: the lock is the flock, not the pid). */
  readonly holder: { pid: number } | undefined
  constructor(what: string, holder: { pid: number } | undefined, waitedMs: number) {
    super(`${what} is busy${holder ? ` (held by pid ${holder.pid})` : ''}${waitedMs > 0 ? `; waited ${waitedMs} ms` : ''}`)
    this.what = what
    this.holder = holder
  }
}

/** A full apply would remove what was added at runtime (a VM's port, a forward): it needs `prune`. */
export class WouldRemoveError extends KvmnetError {
  override name = 'WouldRemoveError'
  readonly items: string[]
  constructor(network: string, items: string[]) {
    super(`up of ${network} would remove what was added at runtime: ${items.join(', ')}; add them to the spec, or prune them (--prune)`)
    this.items = items
  }
}

/** The kernel flagged a dump inconsistent (NLM_F_DUMP_INTR) on every one of `attempts` tries in a row. */
export class DumpInterruptedError extends KvmnetError {
  override name = 'DumpInterruptedError'
  readonly op: string
  readonly attempts: number
  constructor(op: string, attempts: number) {
    super(`${op} dump was interrupted by concurrent changes ${attempts} times in a row`)
    this.op = op
    this.attempts = attempts
  }
}

/** The kernel lacks something a spec needs (a qdisc, classifier, action or link kind), found before anything is touched. */
export class KernelFeatureError extends KvmnetError {
  override name = 'KernelFeatureError'
  /** What is missing, as the kernel's config names it: 'sch_htb', 'sch_ingress', 'cls_u32', 'act_mirred', 'ifb'. */
  readonly feature: string
  /** The spec field that needs it. */
  readonly field: string
  constructor(feature: string, field: string, detail: string, cause?: unknown) {
    super(`${field}: this kernel lacks ${feature} (${detail})`, { cause })
    this.feature = feature
    this.field = field
  }
}
