/**
 * A real QEMU guest for integration tests: a Debian kernel and a busybox initramfs built at test time
 * (guest-image/), attached to an existing persistent tap inside a test namespace. The guest leases an
 * address with udhcpc, runs the checks it is given, prints `KVMNET-RESULT` lines on its serial console
 * and powers off; bootGuest returns those results parsed. qemu is always killed by PID on timeout or
 * failure, so no guest outlives the call.
 */
import { execa } from 'execa'
import { existsSync } from 'node:fs'
import { SpecError } from '../../src/errors.js'
import { chooseAccel, markKvmBroken, type Accel } from './guest-image/accel.js'
import { checksCmdline, type GuestChecks } from './guest-image/checks.js'
import { buildGuestInitramfs } from './guest-image/image.js'
import { findGuestKernel } from './guest-image/kernel.js'
import { parseGuestSerial, type GuestLease, type GuestResults } from './guest-image/report.js'

export { buildGuestInitramfs, DEFAULT_GUEST_MODULES, type GuestImageOptions } from './guest-image/image.js'
export { findGuestKernel } from './guest-image/kernel.js'
export { tcpKey, parseGuestSerial, type GuestLease, type GuestResults } from './guest-image/report.js'
export type { GuestChecks } from './guest-image/checks.js'
export { kvmUsable, kvmBrokenReason, type Accel } from './guest-image/accel.js'

export const QEMU_BINARY = 'qemu-system-x86_64'

export interface BootGuestOptions {
  /** Namespace file the tap lives in, e.g. /run/netns/kve-ab12cd. */
  netnsPath: string
  /** An existing persistent tap in that namespace (`ip tuntap add NAME mode tap`). */
  tapName: string
  /** A macvtap's char device (/dev/tapN): opened as qemu's fd 3 and used instead of `tapName`. */
  tapDevice?: string
  /** The guest NIC's MAC, e.g. 52:54:00:12:34:56. */
  mac: string
  /** Kill the guest and reject after this long; default 180 s (TCG boots take tens of seconds). */
  timeoutMs?: number
  checks: GuestChecks
  /** Kernel to boot; default findGuestKernel(). */
  kernel?: string
  /** DHCP discover attempts, one a second; default 15. */
  dhcpTries?: number
  /** Force an accelerator; by default KVM when it works here (falling back to TCG once it stalls), else TCG. */
  accel?: Accel
}

export interface GuestReport {
  lease?: GuestLease
  pings: Record<string, boolean>
  tcp: Record<string, boolean>
  /** From spawning qemu to its exit (the guest's power-off), for the run reported. */
  bootMs: number
  /** The whole serial console transcript. */
  serial: string
  /** The accelerator the reported run used. */
  accel: Accel
  /** The MAC the guest saw on eth0. */
  mac?: string
  /** The IPv6 address the guest got by SLAAC (checks.slaac). */
  addr6?: string
  /** Problems the guest reported about itself ('no dhcp lease', ...). */
  errors: string[]
}

/** qemu did not finish: it timed out, failed to start, or exited before the guest's init reached its end. */
export class GuestBootError extends Error {
  override name = 'GuestBootError'
  readonly report: GuestReport
  readonly stderr: string
  /** qemu's PID, already killed and reaped when this is thrown. */
  readonly pid: number | undefined
  constructor(
    message: string,
    init: { report: GuestReport; stderr: string; pid: number | undefined },
    options?: { cause?: unknown },
  ) {
    super(`${message}\n--- qemu stderr ---\n${init.stderr.trim()}\n--- serial (tail) ---\n${init.report.serial.slice(-3000)}`, options)
    this.report = init.report
    this.stderr = init.stderr
    this.pid = init.pid
  }
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i
const IFNAME = /^[^\s/:]{1,15}$/
// x86 COMMAND_LINE_SIZE is 2048; the kernel would silently truncate past it.
const CMDLINE_MAX = 2047

/** Whether qemu and a guest kernel are installed; the reason when not, for t.skip. */
export function guestSupport(): { ok: true } | { ok: false; reason: string } {
  const qemu = ['/usr/bin', '/usr/local/bin', '/bin'].some((d) => existsSync(`${d}/${QEMU_BINARY}`))
  if (!qemu) return { ok: false, reason: `${QEMU_BINARY} not installed (Debian package qemu-system-x86)` }
  try {
    findGuestKernel()
  } catch (err) {
    return { ok: false, reason: (err as Error).message }
  }
  return { ok: true }
}

function validate(opts: BootGuestOptions): string[] {
  if (!opts.netnsPath.startsWith('/')) throw new SpecError('netnsPath', `not an absolute path: ${JSON.stringify(opts.netnsPath)}`)
  if (!IFNAME.test(opts.tapName)) throw new SpecError('tapName', `not an interface name: ${JSON.stringify(opts.tapName)}`)
  if (!MAC.test(opts.mac)) throw new SpecError('mac', `not a MAC address (aa:bb:cc:dd:ee:ff): ${JSON.stringify(opts.mac)}`)
  // The low bit of the first octet marks a group address, which no NIC may use as its own.
  if ((parseInt(opts.mac.slice(0, 2), 16) & 1) === 1) throw new SpecError('mac', `multicast MAC: ${opts.mac}`)
  if (opts.timeoutMs !== undefined && !(Number.isFinite(opts.timeoutMs) && opts.timeoutMs > 0)) {
    throw new SpecError('timeoutMs', `not a positive number: ${opts.timeoutMs}`)
  }
  if (opts.dhcpTries !== undefined && !(Number.isInteger(opts.dhcpTries) && opts.dhcpTries > 0)) {
    throw new SpecError('dhcpTries', `not a positive integer: ${opts.dhcpTries}`)
  }
  const words = checksCmdline(opts.checks)
  if (opts.dhcpTries !== undefined) words.push(`kvmnet.dhcptries=${opts.dhcpTries}`)
  return words
}

/** qemu's argv (after the binary) for one guest run. */
export function qemuArgs(o: { kernel: string; initrd: string; append: string; tapName: string; mac: string; accel: Accel; tapFd?: number }): string[] {
  return [
    // -nodefaults: no default NIC, VGA or floppy, so the guest probes nothing but the NIC added below.
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-serial', 'stdio',
    '-no-reboot',
    '-machine', `pc,accel=${o.accel}`,
    ...(o.accel === 'kvm' ? ['-cpu', 'host'] : []),
    '-m', '256',
    '-smp', '1',
    '-kernel', o.kernel,
    '-initrd', o.initrd,
    '-append', o.append,
    '-netdev', o.tapFd !== undefined ? `tap,id=n0,fd=${o.tapFd},vhost=off` : `tap,id=n0,ifname=${o.tapName},script=no,downscript=no,vhost=off`,
    '-device', `virtio-net-pci,netdev=n0,mac=${o.mac}`,
  ]
}

const live = new Set<number>()

/**
 * Ends every guest this process started and has not reaped yet (SIGKILL to qemu, by the PID it started):
 * for a test's teardown, where a guest told to wait for its peers would otherwise run on after a failure
 * until its own timeout, and the test file with it.
 */
export function killLiveGuests(): void {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'ESRCH')) throw err
    }
  }
}

process.on('exit', () => {
  // Last resort for a test process that dies mid-boot: never leave a guest running.
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
})

interface QemuRun {
  serial: string
  stderr: string
  pid: number | undefined
  exitCode: number | undefined
  signal: string | undefined
  timedOut: boolean
  /** Killed because init never started under KVM (see guest-image/accel.ts). */
  stalled: string | undefined
  ms: number
}

// A KVM guest reaches init in a second or two; ten times that means KVM is not really working here.
const KVM_STALL_MS = 20_000
const BOOT_LINE = 'KVMNET-RESULT boot'
const KVM_FAILURE = /KVM internal error|emulation failure|kvm run failed/i
const KVM_ABORT = /failed to set MSR|kvm_buf_set_msrs|kvm_init_vcpu failed/i

/** One qemu run in the namespace; qemu is dead and reaped when this resolves. */
async function runQemu(netnsPath: string, args: readonly string[], timeoutMs: number, watchKvm: boolean, tapDevice?: string): Promise<QemuRun> {
  const started = Date.now()
  // nsenter execs qemu in place, so the PID below is qemu's own (with a macvtap, sh opens its device as
  // fd 3 and execs qemu in its place too).
  const command = tapDevice ? ['sh', '-c', `exec "$0" "$@" 3<>${tapDevice}`, QEMU_BINARY, ...args] : [QEMU_BINARY, ...args]
  const child = execa('nsenter', [`--net=${netnsPath}`, '--', ...command], {
    stdin: 'ignore',
    reject: false,
    buffer: false,
  })
  const pid = child.pid
  if (pid !== undefined) live.add(pid)

  let serial = ''
  let stderr = ''
  let timedOut = false
  let stalled: string | undefined
  const stop = (): void => {
    child.kill('SIGKILL')
  }
  child.stdout?.setEncoding('utf8')
  child.stderr?.setEncoding('utf8')
  child.stdout?.on('data', (d: string) => {
    serial += d
  })
  child.stderr?.on('data', (d: string) => {
    stderr += d
    if (watchKvm && stalled === undefined && KVM_FAILURE.test(stderr)) {
      stalled = 'KVM stopped the guest with an internal error'
      stop()
    }
  })
  const timer = setTimeout(() => {
    timedOut = true
    stop()
  }, timeoutMs)
  const stallTimer = watchKvm
    ? setTimeout(() => {
        if (!serial.includes(BOOT_LINE)) {
          stalled = `the guest did not reach init within ${KVM_STALL_MS} ms under KVM`
          stop()
        }
      }, KVM_STALL_MS)
    : undefined

  try {
    const exit = await child
    return {
      serial,
      stderr,
      pid,
      exitCode: exit.exitCode,
      signal: exit.signal,
      timedOut: timedOut && stalled === undefined,
      stalled,
      ms: Date.now() - started,
    }
  } finally {
    clearTimeout(timer)
    clearTimeout(stallTimer)
    // Only while it has not been reaped: after that the PID may already belong to someone else.
    if (child.exitCode === null && child.signalCode === null) {
      stop()
      await child.catch(() => undefined)
    }
    if (pid !== undefined) live.delete(pid)
  }
}

/** Boot the guest on `tapName` inside `netnsPath`, run `checks`, and return what the guest reported. */
export async function bootGuest(opts: BootGuestOptions): Promise<GuestReport> {
  const checkWords = validate(opts)
  const kernel = opts.kernel ?? findGuestKernel()
  const initrd = await buildGuestInitramfs({ kernel })
  // panic=-1 + -no-reboot: a guest kernel panic ends qemu at once instead of hanging until the timeout.
  // no_timer_check: under TCG on a busy host the kernel's IO-APIC timer check can time out and panic
  // ("IO-APIC + timer doesn't work!", seen in CI); a VM has no broken timer for it to find.
  const append = ['console=ttyS0', 'panic=-1', 'no_timer_check', 'quiet', 'loglevel=3', ...checkWords].join(' ')
  if (append.length > CMDLINE_MAX) throw new SpecError('checks', `too many checks: kernel command line is ${append.length} bytes, limit ${CMDLINE_MAX}`)
  const timeoutMs = opts.timeoutMs ?? 180_000

  const choice = opts.accel ? { accel: opts.accel, forced: true } : chooseAccel()
  let accel = choice.accel
  const argsFor = (a: Accel): string[] => qemuArgs({ kernel, initrd, append, tapName: opts.tapName, mac: opts.mac, accel: a, ...(opts.tapDevice ? { tapFd: 3 } : {}) })
  const run1 = (args: string[], watch: boolean): Promise<QemuRun> => runQemu(opts.netnsPath, args, timeoutMs, watch, opts.tapDevice)
  let run = await run1(argsFor(accel), accel === 'kvm' && !choice.forced)
  // Some hosts' KVM aborts qemu outright before the guest runs ("failed to set MSR 0x10a", seen with
  // nested virtualization): that is KVM not working here too, not the guest failing.
  if (run.stalled === undefined && accel === 'kvm' && !choice.forced && !run.serial.includes(BOOT_LINE) && (run.signal === 'SIGABRT' || KVM_ABORT.test(run.stderr))) {
    run.stalled = `KVM aborted qemu: ${run.stderr.trim().split('\n')[0] ?? run.signal}`
  }
  if (run.stalled !== undefined) {
    markKvmBroken(run.stalled)
    accel = 'tcg'
    run = await run1(argsFor(accel), false)
  }

  const results: GuestResults = parseGuestSerial(run.serial)
  const report: GuestReport = {
    pings: results.pings,
    tcp: results.tcp,
    bootMs: run.ms,
    serial: run.serial,
    accel,
    errors: results.errors,
  }
  if (results.lease) report.lease = results.lease
  if (results.mac) report.mac = results.mac
  if (results.addr6) report.addr6 = results.addr6

  const failure = { report, stderr: run.stderr, pid: run.pid }
  if (run.timedOut) throw new GuestBootError(`guest did not power off within ${timeoutMs} ms (qemu PID ${run.pid} killed)`, failure)
  if (run.exitCode !== 0) throw new GuestBootError(`qemu exited with ${run.exitCode ?? run.signal ?? 'an error'}`, failure)
  if (!results.done) throw new GuestBootError('qemu exited before the guest init finished (kernel panic?)', failure)
  return report
}
