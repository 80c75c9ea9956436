/**
 * Fixtures for the coexistence tests: a host namespace with an "outside" one behind its uplink, guests on a
 * bridge, Docker's iptables layout, a real ufw whose state lives in a private directory, and a real
 * firewalld on a private D-Bus — each in throwaway namespaces of the caller's prefix, removed at teardown.
 */
import { execa, type ResultPromise } from 'execa'
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { makeNs, waitFor, type TestNs } from './ns.js'

/** A host namespace whose uplink0 (203.0.113.1) leads to an "outside" namespace (203.0.113.2), its default route. */
export async function hostWithOutside(t: Test, prefix: string): Promise<{ host: TestNs; outside: TestNs }> {
  const host = await makeNs(t, prefix)
  const outside = await makeNs(t, prefix)
  await host.ip([`link add uplink0 type veth peer name eth0 netns ${outside.name}`, 'addr add 203.0.113.1/24 dev uplink0', 'link set uplink0 up', 'route add default via 203.0.113.2'].join('\n'))
  await outside.ip(['addr add 203.0.113.2/24 dev eth0', 'link set eth0 up'].join('\n'))
  return { host, outside }
}

/** A guest namespace (of `prefix`) whose eth0 is a veth enslaved to `bridge` in `host`. */
export async function guestOn(t: Test, host: TestNs, bridge: string, veth: string, prefix: string, mac?: string): Promise<TestNs> {
  const guest = await makeNs(t, prefix)
  await host.ip([`link add ${veth} type veth peer name eth0 netns ${guest.name}${mac ? ` address ${mac}` : ''}`, `link set ${veth} master ${bridge} up`].join('\n'))
  await guest.ip('link set eth0 up')
  return guest
}

/**
 * Docker's iptables layout (docker 20-24, iptables-nft), with its docker0 bridge: FORWARD policy DROP,
 * DOCKER-USER first, the isolation stages, the DOCKER chains, and the nat table's jumps and masquerade.
 */
export const DOCKER_RULES = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
COMMIT
`

/** Docker's layout in `ns` (iptables-nft), its docker0 bridge, and br_netfilter's call into iptables on (this namespace's sysctl). */
export async function dockerLayout(ns: TestNs): Promise<void> {
  await ns.ip(['link add docker0 type bridge', 'addr add 172.17.0.1/16 dev docker0', 'link set docker0 up'].join('\n'))
  await ns.run('iptables-nft-restore', [], { input: DOCKER_RULES })
  await bridgeNfCallIptables(ns)
}

/**
 * net.bridge.bridge-nf-call-iptables=1 in `ns` only (per namespace since Linux 5.3). The sysctl exists
 * once br_netfilter is loaded: Docker loads it; the test needs it loaded already (a root-namespace module).
 */
export async function bridgeNfCallIptables(ns: TestNs): Promise<void> {
  await ns.run('sysctl', ['-qw', 'net.bridge.bridge-nf-call-iptables=1'])
}

/** iptables-save (iptables-nft) of `ns` without its timestamp comments and with chain counters zeroed. */
export async function iptablesSave(ns: TestNs, cmd = 'iptables-nft-save'): Promise<string> {
  const out = await ns.run(cmd)
  return out
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/ \[\d+:\d+\]$/, ' [0:0]'))
    .join('\n')
}

/**
 * A real ufw whose configuration and state live in a private directory (ufw's --rootdir/--datadir, copies
 * of the Debian package's files), run through a `ufw` wrapper put first on this process's PATH — so kvmnet,
 * which runs plain `ufw` in the network's namespace, drives this one. Sysctls from ufw's sysctl.conf are
 * not applied (IPT_SYSCTL empty). Returns the wrapper's `ufw(ns, args)`.
 */
export function privateUfw(t: Test, dir: string): { run(ns: TestNs, args: string[]): Promise<string> } {
  const root = join(dir, 'ufw-root')
  mkdirSync(join(root, 'etc/default'), { recursive: true, mode: 0o755 })
  mkdirSync(join(root, 'lib'), { recursive: true, mode: 0o755 })
  mkdirSync(join(root, 'usr/share'), { recursive: true, mode: 0o755 })
  cpSync('/etc/ufw', join(root, 'etc/ufw'), { recursive: true })
  cpSync('/lib/ufw', join(root, 'lib/ufw'), { recursive: true })
  cpSync('/usr/share/ufw', join(root, 'usr/share/ufw'), { recursive: true })
  // Fresh rules from the package's templates, whatever the machine's own ufw has.
  for (const f of ['user.rules', 'user6.rules', 'before.rules', 'before6.rules', 'after.rules', 'after6.rules']) cpSync(`/usr/share/ufw/iptables/${f}`, join(root, 'etc/ufw', f))
  writeFileSync(
    join(root, 'etc/default/ufw'),
    ['IPV6=yes', 'DEFAULT_INPUT_POLICY="DROP"', 'DEFAULT_OUTPUT_POLICY="ACCEPT"', 'DEFAULT_FORWARD_POLICY="DROP"', 'DEFAULT_APPLICATION_POLICY="SKIP"', 'MANAGE_BUILTINS=no', 'IPT_SYSCTL=', 'IPT_MODULES=""', ''].join('\n'),
    { mode: 0o644 },
  )
  writeFileSync(join(root, 'etc/ufw/ufw.conf'), 'ENABLED=no\nLOGLEVEL=off\n', { mode: 0o644 })
  const bin = join(dir, 'bin')
  mkdirSync(bin, { recursive: true, mode: 0o755 })
  writeFileSync(join(bin, 'ufw'), `#!/bin/sh\nexec /usr/sbin/ufw --rootdir=${root} --datadir=${root} "$@"\n`, { mode: 0o755 })
  const oldPath = process.env.PATH
  process.env.PATH = `${bin}:${oldPath ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`
  t.teardown(() => {
    process.env.PATH = oldPath
  })
  return {
    async run(ns, args) {
      const r = await execa('nsenter', [`--net=${ns.path}`, '--', join(bin, 'ufw'), ...args], { env: { LC_ALL: 'C' } })
      return r.stdout
    },
  }
}

/**
 * A real firewalld inside `ns`, on a private system bus (its own dbus-daemon), with a private copy of
 * /etc/firewalld. DBUS_SYSTEM_BUS_ADDRESS is set in this process, so firewall-cmd (kvmnet's too) talks to
 * it. Both processes are stopped (by pid) at teardown; firewalld removes its table as it exits.
 */
export async function privateFirewalld(t: Test, ns: TestNs, dir: string): Promise<{ cmd(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> }> {
  mkdirSync(dir, { recursive: true, mode: 0o755 })
  cpSync('/etc/firewalld', join(dir, 'etc'), { recursive: true })
  const socket = join(dir, 'bus')
  writeFileSync(
    join(dir, 'bus.conf'),
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/><allow send_type="signal"/><allow send_type="method_return"/><allow send_type="error"/>
    <allow receive_type="method_call"/><allow receive_type="signal"/><allow receive_type="method_return"/><allow receive_type="error"/>
  </policy>
</busconfig>
`,
  )
  const procs: ResultPromise[] = []
  t.teardown(async () => {
    for (const p of procs.reverse()) {
      if (p.exitCode === null && p.pid !== undefined) {
        p.kill('SIGTERM')
        const done = await Promise.race([p.then(() => true, () => true), new Promise((r) => setTimeout(() => r(false), 10_000))])
        if (!done) p.kill('SIGKILL')
        await p.catch(() => undefined)
      }
    }
  })
  const dbus = execa('dbus-daemon', [`--config-file=${join(dir, 'bus.conf')}`, '--nofork'], { reject: false })
  procs.push(dbus)
  await waitFor(() => existsSync(socket), 10_000)
  const oldBus = process.env.DBUS_SYSTEM_BUS_ADDRESS
  process.env.DBUS_SYSTEM_BUS_ADDRESS = `unix:path=${socket}`
  t.teardown(() => {
    if (oldBus === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = oldBus
  })
  const fw = execa('nsenter', [`--net=${ns.path}`, '--', 'firewalld', '--nofork', '--nopid', '--system-config', join(dir, 'etc'), '--log-target', 'file', '--log-file', join(dir, 'firewalld.log')], { reject: false })
  procs.push(fw)
  const cmd = async (args: string[]) => {
    const r = await execa('nsenter', [`--net=${ns.path}`, '--', 'firewall-cmd', ...args], { reject: false, timeout: 30_000 })
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }
  }
  await waitFor(async () => (await cmd(['--state'])).stdout.trim() === 'running' || undefined, 60_000, 250)
  return { cmd }
}
