/**
 * A converge between per-port limits and a network cap with a floor (network-bandwidth-qemu's last step,
 * which once saw the unlimited guest answer no ARP for 90 s) leaves both guests reachable at once, every
 * time: right after each up the host resolves each guest's address afresh (its neighbour entries flushed)
 * and connects to a port nobody listens on, which the guest's kernel refuses — an answer, where a guest that
 * cannot be reached gives EHOSTUNREACH. The limited guest's download runs across the converge (its queued
 * packets are in the tap's HTB when that goes), as in the QEMU test. The unlimited port is never touched:
 * same link, no qdisc or filter of kvmnet's, the same root qdisc as before.
 */
import t, { type Test } from 'tap'
import { rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { createNetwork, validateSpec } from '../../src/index.js'
import { makeNs, type TestNs } from '../helpers/ns.js'
import { tapGuest } from '../helpers/tap-guest.js'

const RATE = fileURLToPath(new URL('../helpers/rate.mjs', import.meta.url))
const ROUNDS = 6
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Whether `ip` answers a connection to a closed port (refused) within 5 s; what the try said when not. */
async function answers(host: TestNs, ip: string): Promise<true | string> {
  const r = await host.try('bash', ['-c', `timeout 5 bash -c 'exec 3<>/dev/tcp/${ip}/5999' 2>&1; true`])
  return /refused/i.test(r.stdout) ? true : r.stdout.trim() || 'no answer within 5 s'
}

/** What the host has about the port's link: index, root qdisc kind, ingress qdisc. */
async function portState(host: TestNs, dev: string): Promise<string> {
  const link = (JSON.parse(await host.run('ip', ['-j', 'link', 'show', dev])) as { ifindex: number; qdisc: string; operstate: string }[])[0]
  const ingress = (await host.run('tc', ['qdisc', 'show', 'dev', dev, 'ingress'])).trim()
  return JSON.stringify({ index: link?.ifindex, qdisc: link?.qdisc, up: link?.operstate, ingress })
}

async function diagnose(t: Test, host: TestNs, bridge: string): Promise<void> {
  for (const [cmd, args] of [
    ['ip', ['neigh']],
    ['bridge', ['link']],
    ['bridge', ['fdb', 'show', 'br', bridge]],
    ['tc', ['-s', 'qdisc', 'show']],
    ['tc', ['-s', 'class', 'show', 'dev', bridge]],
    ['tc', ['filter', 'show', 'dev', bridge]],
  ] as const)
    t.comment(`${cmd} ${args.join(' ')}\n${(await host.try(cmd, args)).stdout}`)
}

t.test('per-port limits to a network cap with a floor and back: both guests answer ARP right after each up; the unlimited port untouched', async (t) => {
  const host = await makeNs(t, 'kb')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const macs = ['52:54:00:4b:05:10', '52:54:00:4b:05:11']
  const ips = ['198.51.100.10', '198.51.100.11']
  const bridge = 'kvbr-kbca'
  const spec = (p0: unknown, cap?: unknown) =>
    validateSpec({
      name: 'kbca',
      mode: 'open',
      ipv4: { address: '198.51.100.1/24' },
      ...(cap ? { bandwidth: cap } : {}),
      ports: [
        { name: 'kbca-p0', mac: macs[0], vnetHdr: false, ...(p0 ? { bandwidth: p0 } : {}) },
        { name: 'kbca-p1', mac: macs[1], vnetHdr: false },
      ],
    })
  const perPort = spec({ inbound: { average: 256 }, outbound: { average: 128 } })
  const capped = spec({ inbound: { floor: 384 } }, { inbound: { average: 512 } })
  const net = createNetwork(perPort, { netns: host.name, stateRoot })
  t.teardown(async () => {
    await net.down().catch(() => undefined)
    await rm(stateRoot, { recursive: true, force: true })
  })
  await net.up()
  const g0 = await tapGuest(t, host, 'kbca-p0', macs[0]!, `${ips[0]}/24`)
  await tapGuest(t, host, 'kbca-p1', macs[1]!, `${ips[1]}/24`)
  g0.spawn('node', [RATE, 'serve-recv', '5001'])
  const p1Before = await portState(host, 'kbca-p1')

  const unreachable: string[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const [from, to, what] = i % 2 === 0 ? [perPort, capped, 'to cap + floor'] : [capped, perPort, 'back to per-port limits']
    if (i === 0) await net.up(from)
    // The limited guest's download runs across the up, its packets queued in the tap's HTB or the bridge's.
    const sender = host.spawn('node', [RATE, 'send', ips[0]!, '5001'])
    await sleep(1000)
    await host.run('ip', ['neigh', 'flush', 'dev', bridge])
    await net.up(to)
    const got = await Promise.all(ips.map((ip) => answers(host, ip)))
    sender.kill('SIGKILL')
    await sender.catch(() => undefined)
    got.forEach((r, g) => r !== true && unreachable.push(`round ${i} (${what}): g${g} ${ips[g]}: ${r}`))
    if (got.some((r) => r !== true)) await diagnose(t, host, bridge)
    t.equal(await portState(host, 'kbca-p1'), p1Before, `round ${i} (${what}): the unlimited port is the same link with the same qdiscs`)
  }
  t.same(unreachable, [], `both guests answered ARP right after each of ${ROUNDS} ups`)
})
