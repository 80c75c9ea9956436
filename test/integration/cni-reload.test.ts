/**
 * Which CNI commands wait for dnsmasq to confirm a reload of its reservations (issue 21): a veth's
 * container is given its address in the ADD result and never asks dnsmasq, so its ADD (and every DEL) only
 * signals dnsmasq; a tap's guest asks dnsmasq for its address as it boots, so a tap's ADD waits for the
 * log line that says dnsmasq read the new reservation. Shown with dnsmasq stopped (SIGSTOP): the veth ADD
 * and the DEL complete, and dnsmasq reads the reservation once it runs again; the tap ADD cannot complete
 * and fails, undone, after the reload's wait.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { makeNs, waitFor } from '../helpers/ns.js'
import { links } from '../helpers/ip.js'
import { stateFileOf } from '../helpers/leftovers.js'
import { downNetwork, invokePlugin, pluginMissing } from '../helpers/cni-runtime/index.js'

const skip = pluginMissing() ?? false

t.test('veth ADD and DEL do not wait for a stopped dnsmasq; a tap ADD does', { skip }, async (t) => {
  const host = await makeNs(t, 'kp-host')
  const stateRoot = `/run/kvmnet-test/${host.name}`
  const name = 'kpreload'
  t.teardown(() => downNetwork(host, name, stateRoot))
  const config = (attachment: 'veth' | 'tap') => ({
    cniVersion: '1.1.0',
    name,
    type: 'kvmnet-cni',
    stateRoot,
    attachment,
    network: { mode: 'nat', ipv4: { address: '10.239.0.1/24', dhcp: { range: ['10.239.0.10', '10.239.0.99'] } }, dns: { enabled: false } },
  })
  const c0 = await makeNs(t, 'kp-c')
  const first = await invokePlugin(host, { command: 'ADD', config: config('veth'), containerId: 'c0', netns: c0.path, ifname: 'eth0' })
  t.equal(first.exitCode, 0, `the first ADD brings the network up: ${first.stderr}`)
  const dir = stateFileOf(stateRoot, name)!.replace(/network\.json$/, 'dnsmasq/')
  const pid = Number(readFileSync(`${dir}dnsmasq.pid`, 'utf8').trim())
  const hostsFile = `${dir}dhcp-hosts`
  const logFile = `${dir}dnsmasq.log`
  process.kill(pid, 'SIGSTOP')
  let stopped = true
  t.teardown(() => {
    if (stopped) process.kill(pid, 'SIGCONT')
  })

  const c1 = await makeNs(t, 'kp-c')
  const add = await invokePlugin(host, { command: 'ADD', config: config('veth'), containerId: 'c1', netns: c1.path, ifname: 'eth0' })
  t.equal(add.exitCode, 0, `veth ADD completes with dnsmasq stopped: ${add.stderr}`)
  const mac = (add.json as { interfaces: { mac: string; sandbox?: string }[] }).interfaces.find((i) => i.sandbox)?.mac
  t.ok(mac && readFileSync(hostsFile, 'utf8').includes(mac), `its reservation is in dnsmasq's hosts file (${mac})`)

  const vm = await makeNs(t, 'kp-c')
  const tap = await invokePlugin(host, { command: 'ADD', config: config('tap'), containerId: 'vm1', netns: vm.path, ifname: 'tapvm1' })
  t.not(tap.exitCode, 0, 'tap ADD waits for dnsmasq to confirm the reload, and fails when it does not')
  t.match(tap.stderr, /dnsmasq's log/, `said: ${tap.stderr.trim().split('\n')[0]}`)
  t.same((await links(vm)).map((l) => l.ifname), ['lo'], 'the failed tap ADD was undone')

  const del = await invokePlugin(host, { command: 'DEL', config: config('veth'), containerId: 'c1', netns: c1.path, ifname: 'eth0' })
  t.equal(del.exitCode, 0, `DEL completes with dnsmasq stopped: ${del.stderr}`)
  t.notOk(readFileSync(hostsFile, 'utf8').includes(mac!), 'the reservation is gone from the hosts file')

  const logBefore = readFileSync(logFile, 'utf8').length
  process.kill(pid, 'SIGCONT')
  stopped = false
  await waitFor(() => readFileSync(logFile, 'utf8').slice(logBefore).includes(`read ${hostsFile}`), 10_000, 20)
  t.pass('dnsmasq re-reads the hosts file once it runs again (the signal was not lost)')
})
