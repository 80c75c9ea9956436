/**
 * The ADD result in each version's shape (golden), an earlier plugin's prevResult kept, the error result,
 * and the result-type checks the integration tests rely on catching what does not conform.
 */
import t from 'tap'
import { attachmentResult, type AttachmentFacts } from '../../src/cni/result.js'
import { CniError, errorResult, toCniError } from '../../src/cni/errors.js'
import { BusyError, SpecError } from '../../src/errors.js'
import { checkAddResult, checkErrorResult, checkVersionResult } from '../helpers/cni-runtime/schema.js'

const facts: AttachmentFacts = {
  host: { name: 'kvc-0123456789', mac: '0e:00:00:00:00:01' },
  container: { name: 'eth0', mac: '02:00:00:00:00:02', mtu: 1500 },
  sandbox: '/run/netns/pod',
  address: '10.88.0.12/24',
  gateway: '10.88.0.1',
  defaultRoute: true,
  nameserver: '10.88.0.1',
  domain: 'pods.test',
}

t.test('results', async (t) => {
  const r11 = attachmentResult('1.1.0', facts)
  t.same(r11, {
    cniVersion: '1.1.0',
    interfaces: [{ name: 'kvc-0123456789', mac: '0e:00:00:00:00:01' }, { name: 'eth0', mac: '02:00:00:00:00:02', mtu: 1500, sandbox: '/run/netns/pod' }],
    ips: [{ address: '10.88.0.12/24', gateway: '10.88.0.1', interface: 1 }],
    routes: [{ dst: '0.0.0.0/0', gw: '10.88.0.1' }],
    dns: { nameservers: ['10.88.0.1'], domain: 'pods.test', search: ['pods.test'] },
  })
  t.same(checkAddResult(r11, '1.1.0'), [])
  const r10 = attachmentResult('1.0.0', facts)
  t.notOk('mtu' in (r10.interfaces?.[1] ?? {}), '1.0.0 has no interface mtu')
  t.same(checkAddResult(r10, '1.0.0'), [])
  t.same(checkAddResult(r11, '1.0.0').length > 0, true, 'a 1.1 field in a 1.0.0 result is caught')
  const isolated = attachmentResult('1.1.0', { ...facts, gateway: undefined, nameserver: undefined, domain: undefined })
  t.same([isolated.routes, isolated.dns, isolated.ips?.[0]?.gateway], [[], {}, undefined], 'no gateway, route or DNS where the network has none')

  const second = attachmentResult('1.1.0', { ...facts, defaultRoute: false })
  t.same([second.routes, second.ips?.[0]?.gateway], [[], '10.88.0.1'], "a container's second attachment: its gateway, but no default route")

  const prev = { cniVersion: '1.1.0', interfaces: [{ name: 'lo', sandbox: '/run/netns/pod' }], ips: [{ address: '127.0.0.1/8', interface: 0 }], dns: { nameservers: ['192.0.2.53'] } }
  const chained = attachmentResult('1.1.0', facts, prev)
  t.equal(chained.interfaces?.length, 3)
  t.same(chained.ips?.map((i) => i.interface), [0, 2], "this attachment's address points at its own interface")
  t.same(chained.dns, prev.dns, "an earlier plugin's DNS is kept")
  t.same(checkAddResult(chained, '1.1.0'), [])
})

t.test('the checks catch what does not conform', async (t) => {
  t.match(checkAddResult({ cniVersion: '1.1.0', ips: [{ address: '10.0.0.1', interface: 3 }] }, '1.1.0').join('\n'), /ips\[0\]\.address.*\n.*ips\[0\]\.interface/)
  t.match(checkAddResult({ cniVersion: '1.1.0', interfaces: [{ mac: 'zz' }], ips: [], extra: 1 }, '1.1.0').join('\n'), /result\.extra[\s\S]*name: required[\s\S]*mac/)
  t.match(checkAddResult({ cniVersion: '1.0.0', ips: [], routes: [{ dst: '0.0.0.0/0', gw: 'x' }], dns: { nameservers: ['nope'] } }, '1.0.0').join('\n'), /routes\[0\]\.gw[\s\S]*nameservers\[0\]/)
  t.same(checkErrorResult({ cniVersion: '1.1.0', code: 7, msg: 'x', details: 'y' }), [])
  t.ok(checkErrorResult({ cniVersion: '1.1.0', code: 0, msg: '' }).length >= 2)
  t.same(checkVersionResult({ cniVersion: '1.1.0', supportedVersions: ['1.0.0', '1.1.0'] }, '1.1.0'), [])
  t.ok(checkVersionResult({ cniVersion: '1.1.0', supportedVersions: ['one'] }, '1.1.0').length > 0)
})

t.test('errors', async (t) => {
  t.same(errorResult(new CniError(7, 'invalid network configuration', 'network.mtu: too small'), '1.0.0'), { cniVersion: '1.0.0', code: 7, msg: 'invalid network configuration', details: 'network.mtu: too small' })
  t.equal(toCniError(new SpecError('mtu', 'too small')).code, 7)
  t.equal(toCniError(new BusyError('network pods', { pid: 1 }, 120000)).code, 11, 'a lock held past the wait: try again later')
  t.equal(toCniError(new Error('boom')).code, 100)
})
