/**
 * A traffic-capable stand-in for a VM on a tap port, without QEMU: socat attaches to the port's tap in
 * the host namespace and relays every frame, over a pair of Unix datagram sockets (one frame each), to
 * a tap of its own in a guest namespace, which has the guest's MAC and address. What the guest sends
 * enters the port's tap exactly as a VM's frames do (the tap's ingress, so its IFB redirect), and what
 * the bridge sends the port leaves by the tap's egress (its root qdisc) — the two places limits act.
 * The port must be created with vnetHdr: false (socat speaks plain frames).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeNs, waitFor, type TestNs } from './ns.js'

interface Teardownable {
  teardown(fn: () => unknown): void
}

export async function tapGuest(t: Teardownable, host: TestNs, port: string, mac: string, cidr: string, prefix = 'kq'): Promise<TestNs> {
  const guest = await makeNs(t, prefix)
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-tapguest-'))
  const h = join(dir, 'h')
  const g = join(dir, 'g')
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // socat gives up once a send finds no socket at the other end, so neither side may send before both
  // are bound: the guest's side first (its tap is down: it sends nothing), then the port's side, and
  // only then is the guest's tap raised.
  const log = (side: string): string => (process.env.KQ_SOCAT_LOG ? `${process.env.KQ_SOCAT_LOG}-${side}-${port}` : '/dev/null')
  guest.spawn('socat', ['-lf', log('g'), `TUN,tun-type=tap,tun-name=eth0,iff-no-pi`, `UNIX-SENDTO:${h},bind=${g}`])
  await waitFor(() => existsSync(g), 5000)
  host.spawn('socat', ['-lf', log('h'), `TUN,tun-type=tap,tun-name=${port},iff-no-pi`, `UNIX-SENDTO:${g},bind=${h}`])
  await waitFor(() => existsSync(h), 5000)
  await waitFor(async () => (await guest.try('ip', ['link', 'show', 'eth0'])).exitCode === 0, 5000)
  await guest.ip(`link set eth0 address ${mac}\naddr add ${cidr} dev eth0\nlink set eth0 up\n`)
  return guest
}
