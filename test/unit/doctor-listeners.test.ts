/** doctor's reading of `ss` lines, and which sockets take a network's DHCP/DNS ports. */
import t from 'tap'
import { takes, wantedSockets } from '../../src/doctor/listeners.js'
import { parseListener } from '../helpers/ss.js'

t.test('ss lines: address, device, port and process', async (t) => {
  t.same(parseListener('UNCONN 0      0      0.0.0.0%virbr0:67 0.0.0.0:* users:(("dnsmasq",pid=2103,fd=4))', 'udp'), { proto: 'udp', addr: '0.0.0.0', device: 'virbr0', port: 67, comm: 'dnsmasq', pid: 2103 })
  t.same(parseListener('UNCONN 0 0 192.0.2.1:53 0.0.0.0:* users:(("dnsmasq",pid=7,fd=6))', 'udp'), { proto: 'udp', addr: '192.0.2.1', port: 53, comm: 'dnsmasq', pid: 7 })
  t.same(parseListener('LISTEN 0 32 [::]%eth0:547 [::]:*', 'tcp'), { proto: 'tcp', addr: '::', device: 'eth0', port: 547 })
  t.same(parseListener('UNCONN 0 0 *:67 *:*', 'udp'), { proto: 'udp', addr: '*', port: 67 })
  t.equal(parseListener('', 'udp'), undefined)
})

t.test('a socket bound to another device shares the port; one bound to no device or to the bridge takes it', async (t) => {
  const dhcp = { proto: 'udp', port: 67, hostAddress: '10.0.0.1', bridge: 'kvbr-lab' } as const
  const l = (addr: string, device?: string) => ({ proto: 'udp' as const, addr, port: 67, ...(device ? { device } : {}) })
  t.notOk(takes(l('0.0.0.0', 'virbr0'), dhcp), "libvirt's dnsmasq on its own bridge")
  t.notOk(takes(l('0.0.0.0', 'kvbr-other'), dhcp), "another kvmnet network's dnsmasq")
  t.notOk(takes(l('10.0.0.1', 'eth0'), dhcp), 'our address, but received on another device only')
  t.ok(takes(l('0.0.0.0'), dhcp), 'a wildcard bound to no device')
  t.ok(takes(l('*'), dhcp), 'a dual-stack wildcard')
  t.ok(takes(l('0.0.0.0', 'kvbr-lab'), dhcp), 'bound to the network bridge')
  t.ok(takes(l('10.0.0.1'), dhcp), 'our address')
  t.notOk(takes(l('10.0.0.2'), dhcp), 'another address')
  t.notOk(takes({ ...l('0.0.0.0'), proto: 'tcp' }, dhcp), 'another protocol')
})

t.test('the sockets a dnsmasq needs: DHCP on IPv4, DNS on every host address; IPv6 wildcards are their own family', async (t) => {
  const key = (w: { proto: string; port: number; hostAddress: string }) => `${w.proto}/${w.port}@${w.hostAddress}`
  t.same(wantedSockets({ hostAddress: '10.0.0.1', ipv6: { hostAddress: 'fd00::1' } }, 'kvbr-x').map(key), ['udp/67@10.0.0.1', 'udp/53@10.0.0.1', 'tcp/53@10.0.0.1', 'udp/53@fd00::1', 'tcp/53@fd00::1'])
  t.same(wantedSockets({ ipv6: { hostAddress: 'fd00::1' } }, 'kvbr-x').map(key), ['udp/53@fd00::1', 'tcp/53@fd00::1'], 'IPv6-only: DNS on its IPv6 address')
  t.same(wantedSockets({ hostAddress: '10.0.0.1', dns: false }, 'kvbr-x').map(key), ['udp/67@10.0.0.1'], 'DNS off: DHCP only')
  const dns6 = { proto: 'udp', port: 53, hostAddress: 'fd00::1', bridge: 'kvbr-x' } as const
  const l = (addr: string) => ({ proto: 'udp' as const, addr, port: 53 })
  t.ok(takes(l('::'), dns6), 'an IPv6 wildcard')
  t.ok(takes(l('*'), dns6), 'a dual-stack wildcard')
  t.notOk(takes(l('0.0.0.0'), dns6), 'an IPv4 wildcard does not take an IPv6 address')
  t.notOk(takes(l('::'), { ...dns6, hostAddress: '10.0.0.1' }), 'nor an IPv6 one an IPv4 address')
})
