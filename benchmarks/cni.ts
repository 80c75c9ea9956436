/**
 * Per-attachment CNI ADD and DEL on a network that is up, as a runtime runs them for each new container:
 * `kvmnet-cni` (the built plugin, dist/cni.cjs, one veth attachment with one port mapping on a NAT network
 * with a DHCP range) beside the CNI reference chain (bridge + host-local + portmap, driven from one shell as
 * a runtime would: bridge's result as portmap's prevResult) and beside netavark (`setup`/`teardown` of one
 * container with one port mapping on its bridge network). Each side runs in its own scratch "host"
 * namespace whose network was brought up by a first container that stays attached, so every timed ADD is
 * one more container on a running network; the containers are interleaved side by side, round by round.
 */
import { execa } from 'execa'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Netns, NotFoundError, openNetwork } from '../src/index.js'
import { CNI_PATH, ensurePeers, freshCommandCaches, NETAVARK, netavarkOptions } from './peers.js'
import { median, type BenchRow } from './stats.js'

const plugin = fileURLToPath(new URL('../dist/cni.cjs', import.meta.url))

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await f()
  return performance.now() - t0
}

/** kvmnet-cni's configuration for container `i`: a NAT network with a DHCP range (kvmnet-cni assigns from it), DNS off, its own host port. */
function kvmnetConf(stateRoot: string, i: number): string {
  return JSON.stringify({
    cniVersion: '1.1.0',
    name: 'kvbcni',
    type: 'kvmnet-cni',
    stateRoot,
    network: { mode: 'nat', ipv4: { address: '10.253.0.1/24', dhcp: { range: ['10.253.0.10', '10.253.0.250'] } }, dns: { enabled: false } },
    runtimeConfig: { portMappings: [{ hostPort: 8080 + i, containerPort: 80, protocol: 'tcp' }] },
  })
}

function kvmnetCall(host: Netns, conf: string, command: 'ADD' | 'DEL', id: string, netns: string): Promise<unknown> {
  return execa('nsenter', [`--net=${host.path}`, '--', plugin], {
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' },
    extendEnv: false,
    input: conf,
  })
}

/** The reference chain for container `id`: bridge then portmap on ADD, portmap then bridge on DEL. */
function chainScript(command: 'ADD' | 'DEL', dir: string, host: Netns, id: string, netns: string, hostPort: number): string {
  const conf =
    `{"cniVersion":"1.0.0","name":"bench","type":"bridge","bridge":"cnibr0","isGateway":true,"ipMasq":true,` +
    `"ipam":{"type":"host-local","ranges":[[{"subnet":"10.253.0.0/24","gateway":"10.253.0.1"}]],"dataDir":"${dir}/ipam"}}`
  const pm = (prev: string) =>
    `{"cniVersion":"1.0.0","name":"bench","type":"portmap","capabilities":{"portMappings":true},` +
    `"runtimeConfig":{"portMappings":[{"hostPort":${hostPort},"containerPort":80,"protocol":"tcp"}]}${prev}}`
  const env = `export CNI_PATH=${CNI_PATH} CNI_CONTAINERID=${id} CNI_NETNS=${netns} CNI_IFNAME=eth0`
  const enter = `nsenter --net=${host.path}`
  if (command === 'ADD') {
    return `set -e; ${env} CNI_COMMAND=ADD
res=$(${enter} ${CNI_PATH}/bridge <<'EOF'
${conf}
EOF
)
${enter} ${CNI_PATH}/portmap >/dev/null <<EOF
${pm(',"prevResult":$res')}
EOF
`
  }
  return `set -e; ${env} CNI_COMMAND=DEL
${enter} ${CNI_PATH}/portmap <<'EOF'
${pm('')}
EOF
${enter} ${CNI_PATH}/bridge <<'EOF'
${conf}
EOF
`
}

/** netavark's options for container `i`: its own id, address and host port on the one bridge network. */
function containerOptions(i: number): string {
  const hex = (n: number) => n.toString(16).padStart(4, '0')
  const id = `${hex(i)}${'0123456789abcdef'.repeat(3)}${hex(i)}${'0'.repeat(8)}`
  return netavarkOptions({ id, name: `bench${i}`, ip: `10.253.0.${10 + i}`, subnet: '10.253.0.0/24', gateway: '10.253.0.1', hostPort: 8080 + i })
}

async function downIfUp(host: Netns, stateRoot: string): Promise<void> {
  try {
    await (await openNetwork('kvbcni', { netns: host, stateRoot })).down()
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err
  }
}

export async function runCniBench(opts: { quick: boolean }): Promise<BenchRow[]> {
  const why = await ensurePeers()
  if (why) {
    process.stderr.write(`bench: cni rows skipped: ${why}\n`)
    return []
  }
  const containers = opts.quick ? 3 : 9
  const dir = await mkdtemp(join(tmpdir(), 'kvmnet-bench-cni-'))
  // Under /run, as a runtime's would be: the detached dnsmasq (user nobody) must reach the state root.
  const stateRoot = `/run/kvmnet-bench-cni-${process.pid}`
  const made: Netns[] = []
  // KVMNET_BENCH_NS_PREFIX replaces the scratch namespaces' leading `kvb` (a helper sharing the host names its own).
  const nsPrefix = process.env.KVMNET_BENCH_NS_PREFIX ?? 'kvb'
  const ns = async (suffix: string): Promise<Netns> => {
    const n = await Netns.create({ prefix: `${nsPrefix}${suffix}` })
    made.push(n)
    return n
  }
  let kHostMade: Netns | undefined
  try {
    const kHost = await ns('ck')
    kHostMade = kHost
    const cHost = await ns('cc')
    const nHost = await ns('cn')
    // Container 0 of each side brings its network up and stays; 1..N are the timed attachments.
    const ctr: Netns[][] = []
    for (let i = 0; i <= containers; i++) ctr.push([await ns('cx'), await ns('cx'), await ns('cx')])
    const nvFiles: string[] = []
    for (let i = 0; i <= containers; i++) {
      nvFiles.push(join(dir, `netavark${i}.json`))
      await writeFile(nvFiles[i]!, containerOptions(i))
    }
    const kv = (op: 'ADD' | 'DEL', i: number) => kvmnetCall(kHost, kvmnetConf(stateRoot, i), op, `bench${i}`, ctr[i]![0]!.path)
    const nv = (i: number, op: 'setup' | 'teardown') =>
      execa('nsenter', [`--net=${nHost.path}`, NETAVARK, '--config', join(dir, 'aardvark'), '-f', nvFiles[i]!, op, ctr[i]![2]!.path])
    const chain = (op: 'ADD' | 'DEL', i: number) => execa('bash', ['-c', chainScript(op, dir, cHost, `bench${i}`, ctr[i]![1]!.path, 8080 + i)])

    // The plugin's code caches made by this benchmark's own runs (see freshCommandCaches): ADD's by container 0's, DEL's by the first timed DEL.
    await freshCommandCaches()
    await kv('ADD', 0)
    await chain('ADD', 0)
    await nv(0, 'setup')
    const add = { k: [] as number[], c: [] as number[], n: [] as number[] }
    const del = { k: [] as number[], c: [] as number[], n: [] as number[] }
    for (let i = 1; i <= containers; i++) {
      add.k.push(await timed(() => kv('ADD', i)))
      add.c.push(await timed(() => chain('ADD', i)))
      add.n.push(await timed(() => nv(i, 'setup')))
    }
    for (let i = 1; i <= containers; i++) {
      del.k.push(await timed(() => kv('DEL', i)))
      del.c.push(await timed(() => chain('DEL', i)))
      del.n.push(await timed(() => nv(i, 'teardown')))
    }
    await kv('DEL', 0)
    await nv(0, 'teardown')
    // A DEL leaves the network up (GC takes it down once no attachment is valid): down here.
    await downIfUp(kHost, stateRoot)
    const row = (name: string, k: number[], b: number[], baseline: string, goal?: string): BenchRow => ({
      name,
      n: k.length,
      kvmnetMs: median(k),
      baselineMs: median(b),
      baseline,
      ratio: median(k) / median(b),
      ...(goal ? { goal } : {}),
    })
    const chainAdd = 'CNI bridge + host-local + portmap ADD (shell)'
    return [
      row('`kvmnet-cni` ADD, network up (veth, 1 port mapping)', add.k, add.c, chainAdd, '<= 1.0x'),
      row('`kvmnet-cni` ADD, network up (veth, 1 port mapping)', add.k, add.n, 'netavark setup (1 port mapping, bridge up)', '<= 2.0x'),
      row('`kvmnet-cni` DEL, network up', del.k, del.c, 'CNI portmap + bridge DEL (shell)', '<= 1.0x'),
      row('`kvmnet-cni` DEL, network up', del.k, del.n, 'netavark teardown (bridge stays up)'),
    ]
  } finally {
    if (kHostMade) await downIfUp(kHostMade, stateRoot).catch((err: unknown) => process.stderr.write(`bench: cni: down: ${String(err)}\n`))
    for (const n of made) await n.delete().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
    await rm(stateRoot, { recursive: true, force: true })
  }
}
