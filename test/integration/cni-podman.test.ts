/**
 * Podman 4 (Debian's 4.3) with its CNI network backend runs a container on a kvmnet network through
 * kvmnet-cni: a conflist naming kvmnet-cni in a private CNI configuration directory, containers.conf and
 * storage in a temp dir, an image made with `podman import` from busybox. The container gets its address
 * (and resolv.conf from the result's DNS), its name resolves, it reaches the outside through NAT, `-p`
 * reaches it from another namespace, and `podman rm` gives everything back.
 *
 * Podman runs inside the test's host namespace and inside a private mount namespace (a holder process
 * keeps it; every podman command enters it) in which /run/netns and /var/lib are empty tmpfs mounts:
 * podman's container namespaces and its host-wide caches (libcni's /var/lib/cni, the image blob cache
 * under /var/lib/containers) stay out of the machine's. Two things this machine needs and a plain host
 * would not (harmless there): the cgroup2 mount of a hybrid cgroup layout is hidden in that mount
 * namespace (crun refuses hybrid layouts: "cgroups in hybrid mode not supported") with --cgroups=disabled,
 * and rlimits are given explicitly within what crun may set here (it cannot raise RLIMIT_NPROC/NOFILE to
 * podman's defaults without CAP_SYS_RESOURCE: "setrlimit `RLIMIT_NPROC`: Operation not permitted").
 */
import t from 'tap'
import { execa, type ResultPromise } from 'execa'
import { cpSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { makeNs, waitFor } from '../helpers/ns.js'
import { links } from '../helpers/ip.js'
import { ping, tcpGet } from '../helpers/guest.js'
import { downNetwork, pluginMissing, PLUGIN, recordedSpec, tempDir } from '../helpers/cni-runtime/index.js'

function podmanMissing(): string | undefined {
  for (const p of ['podman', 'crun', 'conmon']) {
    if (!['/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/libexec/podman'].some((d) => existsSync(join(d, p)))) return `${p} not installed (Debian package podman)`
  }
  return undefined
}

const skip = pluginMissing() ?? podmanMissing() ?? false
const IMAGE = 'localhost/kvc6-busybox'

/** A root filesystem with busybox and the libraries it links (Debian's busybox is dynamic). */
async function busyboxRootfs(dir: string): Promise<string> {
  const root = join(dir, 'rootfs')
  mkdirSync(join(root, 'bin'), { recursive: true })
  cpSync('/bin/busybox', join(root, 'bin/busybox'))
  const ldd = (await execa('ldd', ['/bin/busybox'])).stdout
  for (const lib of ldd.matchAll(/(\/\S+\.so[.\d]*)/g)) {
    const p = lib[1] ?? ''
    mkdirSync(join(root, dirname(p)), { recursive: true })
    cpSync(p, join(root, p), { dereference: true })
  }
  for (const a of ['sh', 'ip', 'ping', 'cat', 'sleep', 'nc', 'echo', 'chmod']) symlinkSync('busybox', join(root, 'bin', a))
  mkdirSync(join(root, 'tmp'), { mode: 0o1777 })
  const tar = join(dir, 'rootfs.tar')
  await execa('tar', ['-C', root, '-cf', tar, '.'])
  return tar
}

t.test('podman (CNI backend) runs a container on a kvmnet network', { skip }, async (t) => {
  const host = await makeNs(t, 'kvc6-host')
  const out = await makeNs(t, 'kvc6-out')
  await host.ip([`link add uplink0 type veth peer name eth0 netns ${out.name}`, 'addr add 203.0.113.1/24 dev uplink0', 'link set uplink0 up', 'route add default via 203.0.113.2'].join('\n'))
  await out.ip(['addr add 203.0.113.2/24 dev eth0', 'link set eth0 up'].join('\n'))
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const dir = tempDir(t, 'kvmnet-cni-podman-')
  t.teardown(() => downNetwork(host, 'kvc6pm', stateRoot))

  for (const d of ['bin', 'net.d', 'storage', 'run', 'tmp']) mkdirSync(join(dir, d))
  symlinkSync(PLUGIN, join(dir, 'bin/kvmnet-cni'))
  writeFileSync(
    join(dir, 'net.d/kvc6pm.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'kvc6pm',
      plugins: [
        {
          type: 'kvmnet-cni',
          stateRoot,
          network: { mode: 'nat', ipv4: { address: '10.236.0.1/24', dhcp: { range: ['10.236.0.10', '10.236.0.99'] } }, dns: { domain: 'pods.test' } },
          capabilities: { portMappings: true },
        },
      ],
    }),
  )
  writeFileSync(
    join(dir, 'containers.conf'),
    [
      '[containers]',
      'log_driver = "k8s-file"',
      '[network]',
      'network_backend = "cni"',
      `cni_plugin_dirs = ["${join(dir, 'bin')}", "/usr/lib/cni"]`,
      `network_config_dir = "${join(dir, 'net.d')}"`,
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${join(dir, 'events.log')}"`,
      `tmp_dir = "${join(dir, 'tmp')}"`,
      'runtime = "crun"',
      '',
    ].join('\n'),
  )
  writeFileSync(join(dir, 'storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${join(dir, 'storage')}"\nrunroot = "${join(dir, 'run')}"\n`)
  const tar = await busyboxRootfs(dir)

  // The private mount namespace, kept by a holder process (killed by PID at teardown).
  const holder: ResultPromise = execa(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o mode=755 kvmnet-test-netns /run/netns && mount -t tmpfs -o mode=755 kvmnet-test-varlib /var/lib && { umount /sys/fs/cgroup/unified 2>/dev/null; true; } && echo ready && exec sleep 3600'],
    { reject: false },
  )
  t.teardown(async () => {
    holder.kill('SIGKILL')
    await holder
  })
  await new Promise<void>((resolve, reject) => {
    holder.stdout?.on('data', (d: Buffer) => String(d).includes('ready') && resolve())
    void holder.then((r) => reject(new Error(`the mount namespace holder exited: ${String(r.stderr)}`)))
  })
  const env = { CONTAINERS_CONF: join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf') }
  const podman = (args: string[]) =>
    execa('nsenter', [`--mount=/proc/${holder.pid}/ns/mnt`, `--net=${host.path}`, '--', 'podman', ...args], { env, reject: false, timeout: 120_000 })
  const limits = ['--cgroups=disabled', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096']

  const imported = await podman(['import', tar, IMAGE])
  t.equal(imported.exitCode, 0, `podman import: ${imported.stderr}`)
  t.teardown(() => podman(['rm', '-f', '-a', '-t', '0']))
  const server = 'printf "#!/bin/sh\\necho pod\\n" > /tmp/reply && chmod +x /tmp/reply && nc -ll -p 80 -e /tmp/reply'
  const run = await podman(['run', '-d', '--name', 'web1', ...limits, '--network', 'kvc6pm', '-p', '8080:80', IMAGE, 'sh', '-c', server])
  t.equal(run.exitCode, 0, `podman run: ${run.stderr}`)
  if (run.exitCode !== 0) return

  const ip = (await podman(['inspect', '-f', '{{(index .NetworkSettings.Networks "kvc6pm").IPAddress}}', 'web1'])).stdout.trim()
  t.match(ip, /^10\.236\.0\.\d+$/, `podman reports the address kvmnet-cni assigned (${ip})`)
  const resolv = (await podman(['exec', 'web1', 'cat', '/etc/resolv.conf'])).stdout
  t.match(resolv, /nameserver 10\.236\.0\.1/, "resolv.conf from the result's DNS")
  t.match(resolv, /search pods\.test/)
  t.ok(await ping(host, ip), 'host -> container')
  t.equal((await host.run('dig', ['+short', '+time=2', '@10.236.0.1', 'web1.pods.test'])).trim(), ip, 'the container name resolves at the network dnsmasq')
  t.equal((await podman(['exec', 'web1', 'ping', '-c', '1', '-W', '2', '203.0.113.2'])).exitCode, 0, 'container -> outside (NAT)')
  t.match(await waitFor(() => tcpGet(out, '203.0.113.1', 8080), 10_000), /^pod/, '-p 8080:80 reaches the container from another namespace')
  const spec = await recordedSpec(host, 'kvc6pm', stateRoot)
  t.same(spec?.forwards, [{ proto: 'tcp', hostPort: 8080, guest: ip, guestPort: 80 }])

  const rm = await podman(['rm', '-f', '-t', '0', 'web1'])
  t.equal(rm.exitCode, 0, `podman rm: ${rm.stderr}`)
  const after = await recordedSpec(host, 'kvc6pm', stateRoot)
  t.same(after?.ipv4.dhcp.hosts, [], 'reservation given back on podman rm')
  t.same(after?.forwards, [], 'forward removed')
  t.same((await links(host)).filter((l) => l.ifalias?.includes(':cni/')), [], 'no attachment link left')
})
