/**
 * A private libvirt 9 daemon for a test: monolithic `libvirtd` inside the test's network namespace and
 * a private mount namespace of its own, where fresh temporary directories are bind-mounted over
 * /run/libvirt, /var/lib/libvirt, /etc/libvirt (a copy of the stock one plus a qemu.conf that runs QEMU
 * as root with no security driver, cgroups or mount namespace), /var/cache/libvirt and /var/log/libvirt,
 * and a copy of /etc/passwd and /etc/group that has the libvirt-qemu user (libvirt 9 resolves its
 * build-time default user before reading qemu.conf). So its sockets, its networks, their dnsmasq and their
 * iptables rules live in the test namespace only. virsh speaks to it from anywhere through the socket's
 * real path (`uri`); `inMounts` runs a command where libvirt's files are where a host has them.
 *
 * Teardown (also on failure): every domain destroyed and network stopped through libvirt, libvirtd
 * stopped by PID (SIGTERM, then SIGKILL), then any process still in one of its mount namespaces (a QEMU or
 * dnsmasq libvirt started: nobody else's can be there) killed by PID, and the directories removed. The
 * empty mount points themselves are made on the host when missing (as the libvirt-daemon-system package
 * does) and left there.
 */
import { execa, type ResultPromise } from 'execa'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor, type TestNs } from './ns.js'

interface Teardownable {
  teardown(fn: () => unknown): void
}

const MOUNTS: Record<string, string> = { run: '/run/libvirt', lib: '/var/lib/libvirt', etc: '/etc/libvirt', cache: '/var/cache/libvirt', log: '/var/log/libvirt' }

const QEMU_CONF = `# test/helpers/libvirtd.ts: QEMU as root, nothing relabelled, no cgroups, no private /dev, no virtlogd.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "file"
`
const LIBVIRTD_CONF = `# test/helpers/libvirtd.ts: root only, no authentication on the private socket.
unix_sock_group = "root"
unix_sock_ro_perms = "0700"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:stderr"
`

export interface Libvirtd {
  /** The temporary root: run/, lib/, etc/, cache/, log/ are what libvirtd sees under its usual paths. */
  dir: string
  /** `virsh -c` URI reaching this daemon from the test process. */
  uri: string
  /** libvirtd's PID (changes with restart). */
  pid(): number
  virsh(args: readonly string[], opts?: { input?: string }): Promise<string>
  virshTry(args: readonly string[]): Promise<{ exitCode: number; stdout: string; stderr: string }>
  /** Run a command in libvirtd's mount and network namespaces (libvirt's files at their host paths). */
  inMounts(cmd: string, args: readonly string[], opts?: { input?: string; env?: Record<string, string> }): Promise<{ exitCode: number; stdout: string; stderr: string }>
  /** Stop libvirtd alone (its domains and networks keep running, as on a host) and start it again. */
  restart(): Promise<void>
  /** PIDs of libvirtd and everything it started (its dnsmasq, QEMU), by mount namespace. */
  processes(): number[]
  /** The daemon's log so far (for t.comment on failure). */
  log(): string
}

/** Whether libvirtd and virsh are installed; the reason when not, for t.skip. */
export function libvirtSupport(): { ok: true } | { ok: false; reason: string } {
  for (const [bin, pkg] of [['/usr/sbin/libvirtd', 'libvirt-daemon'], ['/usr/bin/virsh', 'libvirt-clients'], ['/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so', 'libvirt-daemon-driver-qemu']] as const) {
    if (!existsSync(bin)) return { ok: false, reason: `${bin} not installed (Debian package ${pkg})` }
  }
  return { ok: true }
}

const liveMntNs = new Set<number>()

function mntNsOf(pid: number | string): number | undefined {
  try {
    return Number(/mnt:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/mnt`))?.[1])
  } catch {
    return undefined
  }
}

/** PIDs of processes in one of the mount namespaces `inodes` (libvirtd's: only what it started). */
export function processesInMounts(inodes: ReadonlySet<number>): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && p !== String(process.pid))
    .filter((p) => {
      const ino = mntNsOf(p)
      return ino !== undefined && inodes.has(ino)
    })
    .map(Number)
}

function killAll(inodes: ReadonlySet<number>): void {
  for (const pid of processesInMounts(inodes)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
    }
  }
}

process.on('exit', () => {
  // Last resort for a test process that dies with a daemon running.
  killAll(liveMntNs)
})

export async function startLibvirtd(t: Teardownable, ns: TestNs): Promise<Libvirtd> {
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-libvirtd-'))
  for (const sub of Object.keys(MOUNTS)) mkdirSync(join(dir, sub))
  cpSync('/etc/libvirt', join(dir, 'etc'), { recursive: true })
  writeFileSync(join(dir, 'etc', 'qemu.conf'), QEMU_CONF)
  writeFileSync(join(dir, 'etc', 'libvirtd.conf'), LIBVIRTD_CONF)
  const passwd = readFileSync('/etc/passwd', 'utf8')
  const group = readFileSync('/etc/group', 'utf8')
  const gid = /^kvm:x:(\d+):/m.exec(group)?.[1] ?? '0'
  writeFileSync(join(dir, 'passwd'), /^libvirt-qemu:/m.test(passwd) ? passwd : `${passwd}libvirt-qemu:x:64055:${gid}:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin\n`)
  writeFileSync(join(dir, 'group'), /^libvirt-qemu:/m.test(group) ? group : `${group}libvirt-qemu:x:64055:\n`)
  for (const target of Object.values(MOUNTS)) mkdirSync(target, { recursive: true })

  const uri = `qemu+unix:///system?socket=${join(dir, 'run', 'libvirt-sock')}`
  const mine = new Set<number>()
  let child: ResultPromise | undefined
  let pid = 0
  let logText = ''

  const start = async (): Promise<void> => {
    rmSync(join(dir, 'run', 'libvirt-sock'), { force: true })
    const binds = [
      `mount --bind ${join(dir, 'passwd')} /etc/passwd`,
      `mount --bind ${join(dir, 'group')} /etc/group`,
      ...Object.entries(MOUNTS).map(([sub, target]) => `mount --bind ${join(dir, sub)} ${target}`),
    ]
    // unshare, sh and nsenter each exec the next: the child's PID is libvirtd's.
    const c = execa('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-ec', `${binds.join('\n')}\nexec nsenter --net=${ns.path} -- libvirtd -p ${join(dir, 'libvirtd.pid')}`], {
      stdin: 'ignore',
      all: true,
      buffer: false,
      reject: false,
    })
    c.all?.setEncoding('utf8')
    c.all?.on('data', (d: string) => {
      logText += d
    })
    child = c
    if (c.pid === undefined) throw new Error('libvirtd did not start')
    pid = c.pid
    const ino = mntNsOf('self')
    try {
      await waitFor(async () => {
        if (c.exitCode !== null) throw new Error(`libvirtd exited with ${c.exitCode}:\n${logText.slice(-2000)}`)
        const ns = mntNsOf(pid)
        if (ns !== undefined && ns !== ino) {
          mine.add(ns)
          liveMntNs.add(ns)
        }
        if (!existsSync(join(dir, 'run', 'libvirt-sock'))) return false
        return (await execa('virsh', ['-c', uri, 'version'], { reject: false })).exitCode === 0
      }, 30_000, 100)
    } catch (err) {
      await stop()
      throw err
    }
  }

  const stop = async (): Promise<void> => {
    const c = child
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    c.kill('SIGTERM')
    const dead = await Promise.race([c.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 10_000))])
    if (!dead) {
      c.kill('SIGKILL')
      await c
    }
  }

  const virshTry = async (args: readonly string[]) => {
    const r = await execa('virsh', ['-q', '-c', uri, ...args], { reject: false, timeout: 60_000 })
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }
  }

  t.teardown(async () => {
    try {
      if (child && child.exitCode === null) {
        for (const d of (await virshTry(['list', '--name'])).stdout.split('\n').filter(Boolean)) await virshTry(['destroy', d])
        for (const n of (await virshTry(['net-list', '--name'])).stdout.split('\n').filter(Boolean)) await virshTry(['net-destroy', n])
      }
    } finally {
      await stop()
      killAll(mine)
      await waitFor(() => processesInMounts(mine).length === 0, 10_000, 50)
      for (const ino of mine) liveMntNs.delete(ino)
      rmSync(dir, { recursive: true, force: true })
    }
  })

  await start()
  return {
    dir,
    uri,
    pid: () => pid,
    async virsh(args, opts = {}) {
      const r = await execa('virsh', ['-q', '-c', uri, ...args], { input: opts.input, timeout: 60_000 })
      return r.stdout
    },
    virshTry,
    async inMounts(cmd, args, opts = {}) {
      const r = await execa('nsenter', [`--mount=/proc/${pid}/ns/mnt`, `--net=${ns.path}`, `--wd=${process.cwd()}`, '--', cmd, ...args], { input: opts.input, env: opts.env, reject: false, timeout: 120_000 })
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }
    },
    async restart() {
      await stop()
      await start()
    },
    processes: () => processesInMounts(mine),
    log: () => logText,
  }
}
