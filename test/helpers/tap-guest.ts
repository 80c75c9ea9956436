/**
 * A traffic-capable stand-in for a VM on a tap port, without QEMU: socat attaches to the port's tap in
 * the host namespace and relays every frame, over a pair of Unix datagram sockets (one frame each), to
 * a tap of its own in a guest namespace, which has the guest's MAC and address. What the guest sends
 * enters the port's tap exactly as a VM's frames do (the tap's ingress, so its IFB redirect), and what
 * the bridge sends the port leaves by the tap's egress (its root qdisc) — the two places limits act.
 * The port must be created with vnetHdr: false (socat speaks plain frames).
 */
import { mkdtempSync } from 'node:fs'
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
  // -s: a frame sent before the other side's socket exists is dropped, not fatal; its log goes nowhere
  // (a pipe nobody reads would fill and stall the relay).
  host.spawn('socat', ['-s', '-lf', '/dev/null', `TUN,tun-type=tap,tun-name=${port},iff-no-pi`, `UNIX-SENDTO:${g},bind=${h}`])
  guest.spawn('socat', ['-s', '-lf', '/dev/null', `TUN,tun-type=tap,tun-name=eth0,iff-no-pi`, `UNIX-SENDTO:${h},bind=${g}`])
  await waitFor(async () => (await guest.try('ip', ['link', 'show', 'eth0'])).exitCode === 0, 5000)
  await guest.ip(`link set eth0 address ${mac}\naddr add ${cidr} dev eth0\nlink set eth0 up\n`)
  return guest
}
