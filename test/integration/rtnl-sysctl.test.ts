/** Per-namespace sysctls: written inside a throwaway namespace, the host's values never change. */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { NotFoundError, SystemError } from '../../src/errors.js'
import {
  readBridgeNfCallIptables,
  readSysctl,
  setAcceptRa,
  setBridgeNfCallIptables,
  setIpForward,
  setProxyArp,
  setRouteLocalnet,
  writeSysctl,
} from '../../src/rtnl/index.js'
import { makeNs } from '../helpers/ns.js'

const host = (key: string): string => readFileSync(`/proc/sys/${key}`, 'utf8').trim()

t.test('ip_forward, route_localnet, proxy_arp, accept_ra inside the namespace only', async (t) => {
  const ns = await makeNs(t, 'kvb')
  const ref = { path: ns.path, name: ns.name }
  await ns.ip('link add kvs0 type veth peer name kvs1')
  const hostForward = host('net/ipv4/ip_forward')
  const hostLocalnet = host('net/ipv4/conf/all/route_localnet')

  t.equal(await readSysctl(ref, 'net.ipv4.ip_forward'), '0', 'a new namespace starts with forwarding off')
  await setIpForward(ref, true)
  t.equal(await ns.run('cat', ['/proc/sys/net/ipv4/ip_forward']), '1', 'seen from inside by another process')
  t.equal(await readSysctl(ref, 'net/ipv4/ip_forward'), '1')
  t.equal(host('net/ipv4/ip_forward'), hostForward, 'the host is untouched')

  await setRouteLocalnet(ref, 'kvs0', true)
  t.equal(await ns.run('cat', ['/proc/sys/net/ipv4/conf/kvs0/route_localnet']), '1')
  t.equal(host('net/ipv4/conf/all/route_localnet'), hostLocalnet)
  await setProxyArp(ref, 'kvs0', true)
  t.equal(await readSysctl(ref, 'net/ipv4/conf/kvs0/proxy_arp'), '1')
  await setAcceptRa(ref, 'kvs0', 2)
  t.equal(await readSysctl(ref, 'net/ipv6/conf/kvs0/accept_ra'), '2')
  await writeSysctl(ref, 'net/ipv6/conf/kvs1/disable_ipv6', 1)
  t.equal(await ns.run('cat', ['/proc/sys/net/ipv6/conf/kvs1/disable_ipv6']), '1')

  const missing = await readSysctl(ref, 'net/ipv4/conf/kvnothere/proxy_arp').catch((e: unknown) => e)
  t.type(missing, SystemError)
  t.equal((missing as SystemError).code, 'ENOENT', 'an interface key of a missing interface: ENOENT')
  t.equal((missing as SystemError).path, '/proc/sys/net/ipv4/conf/kvnothere/proxy_arp')
  const bad = await writeSysctl(ref, 'net/ipv4/ip_forward', 'banana').catch((e: unknown) => e)
  t.type(bad, SystemError, 'the kernel refuses a bad value')
})

t.test('bridge-nf-call-iptables exists only with br_netfilter', async (t) => {
  const ns = await makeNs(t, 'kvb')
  const ref = { path: ns.path, name: ns.name }
  const now = await readBridgeNfCallIptables(ref)
  if (now === undefined) {
    const err = await setBridgeNfCallIptables(ref, false).catch((e: unknown) => e)
    t.type(err, NotFoundError, 'br_netfilter not loaded: a clear NotFound')
    t.match((err as Error).message, /br_netfilter/)
  } else {
    // Rewrite the value it already has, so the host could not be changed even on a kernel where
    // this key were not per namespace.
    await setBridgeNfCallIptables(ref, now)
    t.equal(await readBridgeNfCallIptables(ref), now)
  }
})
