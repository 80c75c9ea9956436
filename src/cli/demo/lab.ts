/**
 * The demo's lab: scratch namespaces for the host, its guests and the world outside (an "internet" on
 * TEST-NET-3 and a "LAN" on TEST-NET-2), built with kvmnet's own netlink layer. Everything made here is
 * tracked and removed by `dispose()`, also on Ctrl-C.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Netns } from '../../netns/index.js'
import { nsCommand } from '../../netns/index.js'
import { Rtnl } from '../../rtnl/index.js'
import { runProgram, monotonicMs } from '../../util/index.js'

/** busybox udhcpc runs this on a lease: configure the address and the default route, print the lease. */
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    if [ -n "$router" ]; then ip route replace default via "\${router%% *}" dev "$interface"; fi
    echo "KVMNET-LEASE $ip/$mask \${router%% *}"
    ;;
esac
exit 0
`

export class Lab {
  private readonly namespaces: Netns[] = []
  private readonly sockets: Rtnl[] = []
  private readonly cleanups: (() => Promise<unknown>)[] = []
  private dir: string | undefined

  async scratchDir(): Promise<string> {
    this.dir ??= await mkdtemp(join(tmpdir(), 'kvmnet-demo-'))
    return this.dir
  }

  async udhcpcScript(): Promise<string> {
    const path = join(await this.scratchDir(), 'udhcpc.sh')
    await writeFile(path, UDHCPC_SCRIPT, { mode: 0o755 })
    return path
  }

  async ns(prefix: string): Promise<Netns> {
    const ns = await Netns.create({ prefix: `kvdemo-${prefix}` })
    this.namespaces.push(ns)
    return ns
  }

  rtnl(ns: Netns): Rtnl {
    const r = Rtnl.open(ns)
    this.sockets.push(r)
    return r
  }

  onDispose(fn: () => Promise<unknown>): void {
    this.cleanups.push(fn)
  }

  /** A veth between two namespaces: `a` in nsA (optionally enslaved to a master there), `b` in nsB. */
  async wire(nsA: Netns, a: string, nsB: Netns, b: string, opts: { master?: string; cidrA?: string; cidrB?: string } = {}): Promise<void> {
    const ra = this.rtnl(nsA)
    const rb = this.rtnl(nsB)
    await ra.addLink({ kind: 'veth', name: a, peer: { name: b, netns: nsB }, ...(opts.master ? { master: opts.master } : {}) })
    if (opts.cidrA) await ra.addAddress(a, opts.cidrA)
    if (opts.cidrB) await rb.addAddress(b, opts.cidrB)
    await ra.setLink(a, { up: true })
    await rb.setLink(b, { up: true })
  }

  /** Run a program in a namespace; never throws on exit code. */
  async run(ns: Netns, cmd: string, args: string[], timeoutMs = 10_000): Promise<{ ok: boolean; stdout: string; ms: number }> {
    const c = nsCommand(ns, cmd, args)
    const start = monotonicMs()
    const r = await runProgram(c.file, c.args, { timeoutMs })
    return { ok: r.exitCode === 0, stdout: r.stdout, ms: monotonicMs() - start }
  }

  /**
   * A TCP server in `ns` that answers every connection with the address it came from, so a client can see
   * whether it was NATed on the way. Stopped (by its PID) on dispose.
   */
  async servePeerAddress(ns: Netns, port: number): Promise<void> {
    const c = nsCommand(ns, 'socat', [`TCP-LISTEN:${port},reuseaddr,fork`, 'SYSTEM:echo PEER=$SOCAT_PEERADDR'])
    const child = spawn(c.file, c.args, { stdio: 'ignore' })
    this.onDispose(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await new Promise((r) => child.once('exit', r))
      }
    })
    for (let i = 0; i < 100; i++) {
      const r = await this.run(ns, 'ss', ['-Htln', `sport = :${port}`])
      if (r.stdout.trim()) return
      await new Promise((r) => setTimeout(r, 20))
    }
    throw new Error(`socat did not listen on ${port}`)
  }

  /** Connect from `from` to addr:port of a `servePeerAddress` server: the source address it saw. */
  async peerAddressSeen(from: Netns, addr: string, port: number): Promise<string | undefined> {
    const r = await this.run(from, 'busybox', ['nc', '-w', '2', addr, String(port)])
    return r.stdout.match(/PEER=(\S+)/)?.[1]
  }

  async ping(from: Netns, to: string): Promise<boolean> {
    return (await this.run(from, 'busybox', ['ping', '-c', '1', '-W', '2', to])).ok
  }

  /** busybox udhcpc on `ifname`: the leased address (CIDR) and how long it took, or undefined. */
  async dhcp(ns: Netns, ifname: string): Promise<{ cidr: string; ms: number } | undefined> {
    const script = await this.udhcpcScript()
    const r = await this.run(ns, 'busybox', ['udhcpc', '-i', ifname, '-n', '-q', '-f', '-t', '4', '-T', '1', '-s', script], 15_000)
    const m = r.stdout.match(/KVMNET-LEASE (\S+)/)
    return r.ok && m ? { cidr: m[1]!, ms: r.ms } : undefined
  }

  /**
   * Everything the demo made goes, each part attempted even when another fails; what could not be
   * removed is said on stderr (the demo's table is already printed), so nothing is left unnoticed.
   */
  async dispose(): Promise<void> {
    const failed: string[] = []
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn()
      } catch (err) {
        failed.push(`${what}: ${(err as Error).message}`)
      }
    }
    for (const fn of this.cleanups.reverse()) await attempt('a network', fn)
    this.cleanups.length = 0
    for (const s of this.sockets) s.close()
    this.sockets.length = 0
    for (const ns of this.namespaces.reverse()) await attempt(`namespace ${ns.name ?? ns.path}`, () => ns.delete())
    this.namespaces.length = 0
    if (this.dir) await rm(this.dir, { recursive: true, force: true })
    for (const f of failed) process.stderr.write(`kvmnet demo: could not clean up ${f}\n`)
  }
}
