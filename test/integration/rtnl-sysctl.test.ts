/** Per-namespace sysctls: written inside a throwaway namespace, the host's values never change. */
import { readFileSync, readdirSync } from 'node:fs'
import t from 'tap'
import { native } from '../../src/native/index.js'
import { NotFoundError, SystemError } from '../../src/errors.js'
import {
  readBridgeNfCallIptables,
  readSysctl,
  setAcceptRa,
  setBridgeNfCallIptables,
  setIpForward,
  setProxyArp,
  openSysctls,
  setRouteLocalnet,
  writeSysctl,
  writeSysctls,
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

/** Counts the namespace switches made while `fn` runs (native.withNetns calls). */
async function switchesDuring<T>(fn: () => Promise<T> | T): Promise<{ value: T; switches: number }> {
  const original = native.withNetns
  let switches = 0
  native.withNetns = (path, f) => (switches++, Reflect.apply(original, native, [path, f]))
  try {
    return { value: await fn(), switches }
  } finally {
    native.withNetns = original
  }
}

const openFds = (): number => readdirSync('/proc/self/fd').length

t.test('several sysctls read and written with one switch into the namespace each way', async (t) => {
  const ns = await makeNs(t, 'kvs')
  const ref = { path: ns.path, name: ns.name }
  await ns.ip('link add kvs0 type veth peer name kvs1')
  const hostForward = host('net/ipv4/ip_forward')
  const keys = ['net/ipv4/ip_forward', 'net/ipv4/conf/kvs0/route_localnet', 'net/ipv6/conf/kvs1/disable_ipv6']

  const opened = await switchesDuring(() => openSysctls(ref, keys))
  const files = opened.value
  t.equal(opened.switches, 1, 'three files opened with one switch')
  t.same(files.read(), ['0', '0', '0'], "the namespace's values")
  await ns.run('sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
  const again = await switchesDuring(() => files.read())
  t.same(again.value, ['1', '0', '0'], 'read again through the same fds: what another process wrote since')
  t.equal(again.switches, 0, 'reading again does not enter the namespace')
  files.close()

  const written = await switchesDuring(() => writeSysctls(ref, [['net/ipv4/conf/kvs0/route_localnet', '1'], ['net/ipv6/conf/kvs1/disable_ipv6', '1']]))
  t.equal(written.switches, 1, 'two writes, one switch')
  t.same(written.value, ['net/ipv4/conf/kvs0/route_localnet', 'net/ipv6/conf/kvs1/disable_ipv6'])
  t.equal(await ns.run('cat', ['/proc/sys/net/ipv4/conf/kvs0/route_localnet']), '1', 'seen from inside')
  t.equal(await ns.run('cat', ['/proc/sys/net/ipv6/conf/kvs1/disable_ipv6']), '1')
  t.equal(host('net/ipv4/ip_forward'), hostForward, 'the host is untouched')
  t.same(writeSysctls(ref, []), [], 'nothing to write: nothing opened')
})

t.test('a missing key: ENOENT as readSysctl/writeSysctl say it, nothing left open; missingOk passes over it', async (t) => {
  const ns = await makeNs(t, 'kvs')
  const ref = { path: ns.path, name: ns.name }
  const before = openFds()
  const missing = (() => {
    try {
      return openSysctls(ref, ['net/ipv4/ip_forward', 'net/ipv4/conf/kvsnothere/proxy_arp'])
    } catch (e) {
      return e
    }
  })()
  t.type(missing, SystemError)
  t.equal((missing as SystemError).code, 'ENOENT')
  t.equal((missing as SystemError).path, '/proc/sys/net/ipv4/conf/kvsnothere/proxy_arp')
  t.equal(openFds(), before, 'the key that did open was closed')

  const stop = (() => {
    try {
      return writeSysctls(ref, [['net/ipv4/ip_forward', '1'], ['net/ipv4/conf/kvsnothere/proxy_arp', '1'], ['net/ipv4/conf/all/proxy_arp', '1']])
    } catch (e) {
      return e
    }
  })()
  t.equal((stop as SystemError).code, 'ENOENT', 'stops at the missing key, as one write after another did')
  t.equal(await readSysctl(ref, 'net/ipv4/ip_forward'), '1', 'the key before it was written')
  t.equal(await readSysctl(ref, 'net/ipv4/conf/all/proxy_arp'), '0', 'the key after it was not')
  t.equal(openFds(), before, 'every fd closed')
  t.same(writeSysctls(ref, [['net/ipv4/conf/kvsnothere/proxy_arp', '1'], ['net/ipv4/conf/all/proxy_arp', '1']], { missingOk: true }), ['net/ipv4/conf/all/proxy_arp'])
  t.equal(await readSysctl(ref, 'net/ipv4/conf/all/proxy_arp'), '1')
  const bad = (() => {
    try {
      return writeSysctls(ref, [['net/ipv4/ip_forward', 'banana']], { missingOk: true })
    } catch (e) {
      return e
    }
  })()
  t.type(bad, SystemError, "the kernel's refusal of a value is still thrown")
  t.equal(openFds(), before)
})
