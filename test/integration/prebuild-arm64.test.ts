/**
 * The linux-arm64 prebuild (cross-compiled by native/build.mjs) is a real, working arm64 addon: Debian's
 * arm64 node, run under qemu-user from the private root scripts/arm64-node.sh prepares, loads
 * prebuilds/linux-arm64/*.node directly (require, i.e. process.dlopen; no kvmnet JS involved) and with the
 * addon's own functions creates a network namespace and a tap in it, which the host then sees with ip.
 *
 * qemu-user translates the guest's syscalls to the host kernel, so unshare, mount and the tun ioctls of
 * the arm64 code act on this machine for real. Skipped without qemu-aarch64 or the arm64 root.
 */
import t from 'tap'
import { execa } from 'execa'
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { nsGone, uniqueName } from '../helpers/ns.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const prebuildDir = join(root, 'prebuilds', 'linux-arm64')
const arm64Root = process.env.KVMNET_ARM64_ROOT ?? '/var/cache/kvmnet-arm64-root'
const EM_AARCH64 = 183

function onPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd)
  }
  return undefined
}

const qemu = onPath('qemu-aarch64')
const skip = !qemu
  ? 'qemu-aarch64 not installed (Debian package qemu-user)'
  : !existsSync(join(arm64Root, 'usr/bin/node'))
    ? `no arm64 node root at ${arm64Root} (run scripts/arm64-node.sh as root)`
    : false

function prebuild(): string {
  const found = existsSync(prebuildDir) ? readdirSync(prebuildDir).filter((f) => f.endsWith('.node')) : []
  if (found.length === 0) throw new Error(`no ${prebuildDir}/*.node: npm run build:native needs aarch64-linux-gnu-g++ (g++-aarch64-linux-gnu)`)
  return join(prebuildDir, found.includes('kvmnet.glibc.node') ? 'kvmnet.glibc.node' : found[0]!)
}

/** The first 20 bytes of an ELF header: magic, class, data (endianness), e_machine. */
function elfHeader(file: string): { magic: string; elfClass: number; data: number; machine: number } {
  const fd = openSync(file, 'r')
  try {
    const b = Buffer.alloc(20)
    readSync(fd, b, 0, 20, 0)
    return {
      magic: b.subarray(0, 4).toString('latin1'),
      elfClass: b[4]!,
      data: b[5]!,
      machine: b[5] === 2 ? b.readUInt16BE(18) : b.readUInt16LE(18),
    }
  } finally {
    closeSync(fd)
  }
}

// Runs under the arm64 node (CommonJS, no dependencies). Makes the namespace and the tap, reports them as
// one JSON line, holds the tap's fd (a non-persistent tap lives as long as its fd) until a line arrives on
// stdin, then closes it and deletes the namespace, reporting that too. Any failure is reported as JSON.
const CHILD = `'use strict'
const [addonPath, nsPath, tapName] = process.argv.slice(2)
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
const fail = (err) => {
  say({ error: String(err && err.message), code: err && err.code, syscall: err && err.syscall })
  process.exit(1)
}
try {
  const addon = require(addonPath)
  addon.netnsCreate(nsPath)
  const tap = addon.tapCreate(nsPath, { name: tapName, mode: 'tap', queues: 1, vnetHdr: false, persist: false })
  say({ arch: process.arch, version: process.version, exports: Object.keys(addon).sort(), iffTap: addon.constants.IFF_TAP, tap })
  process.stdin.once('data', () => {
    try {
      for (const fd of tap.fds) addon.closeFd(fd)
      addon.netnsDelete(nsPath)
      say({ released: true })
      process.exit(0)
    } catch (err) {
      fail(err)
    }
  })
} catch (err) {
  fail(err)
}
`

interface TapLink {
  ifname: string
  linkinfo?: { info_kind?: string; info_data?: { type?: string; persist?: boolean } }
}

t.test('the linux-arm64 prebuild is an aarch64 ELF', async (t) => {
  const file = prebuild()
  const h = elfHeader(file)
  t.equal(h.magic, '\x7fELF', 'ELF magic')
  t.equal(h.elfClass, 2, 'ELFCLASS64')
  t.equal(h.data, 1, 'little-endian')
  t.equal(h.machine, EM_AARCH64, 'e_machine 183 (EM_AARCH64)')
  const described = await execa('file', ['-b', file], { reject: false })
  if (described.exitCode === 0) t.match(described.stdout, /ELF 64-bit LSB shared object, ARM aarch64/, 'file(1) agrees')
})

t.test('arm64 node under qemu-aarch64 loads the prebuild and creates a namespace and a tap in it', { skip }, async (t) => {
  const file = prebuild()
  const ns = uniqueName('kvarm')
  const nsPath = `/run/netns/${ns}`
  const tapName = 'kvarmtap0'
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-arm64-'))
  const script = join(dir, 'child.cjs')
  writeFileSync(script, CHILD)

  // -U NODE_OPTIONS: tap's process-info hook adds its --import to every child's NODE_OPTIONS, and Node 18
  // cannot load it; qemu removes the variable from the guest's environment.
  const child = execa(qemu!, ['-U', 'NODE_OPTIONS', '-L', arm64Root, join(arm64Root, 'usr/bin/node'), script, file, nsPath, tapName], {
    stdin: 'pipe',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
    extendEnv: false,
    reject: false,
    timeout: 120_000,
  })
  // Whatever happens below: the emulated node is killed (by its PID) if still running, the namespace is
  // deleted (a no-op when the child already did), the script removed.
  t.teardown(async () => {
    if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL')
    await child.catch(() => undefined)
    await execa('ip', ['netns', 'delete', ns], { reject: false })
    await rm(dir, { recursive: true, force: true })
  })

  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  const next = async (what: string): Promise<Record<string, unknown>> => {
    const r = await lines.next()
    if (r.done) {
      const end = await child
      throw new Error(`the arm64 node ended before ${what} (exit ${end.exitCode}, signal ${end.signal}):\n${end.stderr}`)
    }
    return JSON.parse(r.value) as Record<string, unknown>
  }

  const made = await next('creating the tap')
  t.notOk(made.error, `no error in the arm64 process${made.error ? `: ${JSON.stringify(made)}` : ''}`)
  if (made.error) return
  t.equal(made.arch, 'arm64', 'the addon was loaded by an arm64 node')
  t.match(made.version, /^v\d+\./, `node ${String(made.version)}`)
  t.ok((made.exports as string[]).includes('tapCreate') && (made.exports as string[]).includes('netnsCreate'), 'the addon exports')
  t.equal(made.iffTap, 2, 'constants from the aarch64 build: IFF_TAP')
  t.match(made.tap, { name: tapName, persistent: false, fds: [Number] }, 'tapCreate returned the tap and its fd')

  t.notOk(nsGone(ns), `${nsPath} exists`)
  const listed = (await execa('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0])
  t.ok(listed.includes(ns), 'ip netns list shows the namespace')
  const { stdout } = await execa('ip', ['-n', ns, '-d', '-j', 'link', 'show'])
  const links = JSON.parse(stdout) as TapLink[]
  t.same(links.map((l) => l.ifname).sort(), [tapName, 'lo'], 'lo and the tap, nothing else')
  const tap = links.find((l) => l.ifname === tapName)
  t.equal(tap?.linkinfo?.info_kind, 'tun', 'a tun/tap device')
  t.match(tap?.linkinfo?.info_data, { type: 'tap', persist: false }, 'in tap mode, not persistent')
  t.not((await execa('ip', ['link', 'show', 'dev', tapName], { reject: false })).exitCode, 0, 'not in the host namespace')

  // Let the arm64 side close the fd and delete the namespace with its own netnsDelete.
  child.stdin!.write('done\n')
  const released = await next('releasing the tap')
  t.same(released, { released: true }, `released${released.error ? `: ${JSON.stringify(released)}` : ''}`)
  const end = await child
  t.equal(end.exitCode, 0, 'the arm64 node exited 0')
  t.ok(nsGone(ns), 'the arm64 netnsDelete removed the namespace file')
})

t.test('npm pack lists the linux-x64 and the linux-arm64 prebuild', async (t) => {
  // --ignore-scripts: only the file list is wanted here, not prepack's rebuild.
  const { stdout } = await execa('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root })
  const [report] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>
  const binaries = (report?.files ?? []).map((f) => f.path).filter((p) => p.endsWith('.node'))
  for (const arch of ['linux-x64', 'linux-arm64']) {
    t.ok(binaries.some((p) => p.startsWith(`prebuilds/${arch}/`)), `prebuilds/${arch}/*.node in the tarball (${binaries.join(', ')})`)
  }
  t.notOk(binaries.some((p) => /(^|\/)build\//.test(p)), 'no build tree')
})
