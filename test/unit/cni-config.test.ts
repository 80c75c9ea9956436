/**
 * kvmnet-cni's input: the CNI environment (error 4 naming the variable), the plugin configuration (1
 * for a version it does not speak, 6 for what is not JSON, 7 naming the field as written), the VERSION
 * answer, and the names an attachment derives (host end, MAC, alias, DNS name). No root needed.
 */
import t from 'tap'
import { CniError } from '../../src/cni/errors.js'
import { attachmentEnv, parseCniArgs, readEnv } from '../../src/cni/env.js'
import { decodeConfig, parseConfig } from '../../src/cni/config.js'
import { versionResult } from '../../src/cni/version.js'
import { attachmentAlias, attachmentMac, dnsLabel, hostIfname, innerIfname, nameCandidates, recordFileName } from '../../src/cni/identity.js'
import { isAttachmentOf, linkAlias, parseAlias } from '../../src/network/names.js'

const network = { mode: 'nat', ipv4: { address: '10.88.0.1/24', dhcp: { range: ['10.88.0.10', '10.88.0.99'] } } }
const good = { cniVersion: '1.1.0', name: 'pods', type: 'kvmnet-cni', network }

function codeOf(fn: () => unknown): { code: number; details: string | undefined } | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof CniError) return { code: err.code, details: err.details }
    throw err
  }
  return undefined
}

t.test('environment', async (t) => {
  t.equal(codeOf(() => readEnv({}))?.code, 4, 'no CNI_COMMAND')
  t.match(codeOf(() => readEnv({ CNI_COMMAND: 'add' }))?.details, /unknown command 'add'/, 'commands are upper case')
  const e = readEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web' })
  t.same(e.args, { IgnoreUnknown: '1', K8S_POD_NAME: 'web' })
  t.ok(attachmentEnv(e, { netnsRequired: true }))
  const missing = codeOf(() => attachmentEnv(readEnv({ CNI_COMMAND: 'ADD' }), { netnsRequired: true }))
  t.equal(missing?.code, 4)
  t.match(missing?.details, /CNI_CONTAINERID is not set; CNI_IFNAME is not set; CNI_NETNS is not set/, 'every missing variable named at once')
  t.ok(attachmentEnv(readEnv({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'a', CNI_IFNAME: 'eth0' }), { netnsRequired: false }), 'DEL without CNI_NETNS')
  for (const ifname of ['.', '..', 'a/b', 'a:b', 'a b', 'sixteen-bytes-xx'])
    t.match(codeOf(() => attachmentEnv(readEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'a', CNI_NETNS: '/n', CNI_IFNAME: ifname }), { netnsRequired: true }))?.details, /CNI_IFNAME/, `ifname ${JSON.stringify(ifname)}`)
  t.match(codeOf(() => attachmentEnv(readEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: '_a', CNI_NETNS: '/n', CNI_IFNAME: 'eth0' }), { netnsRequired: true }))?.details, /CNI_CONTAINERID/)
  t.match(codeOf(() => attachmentEnv(readEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'a', CNI_NETNS: 'relative', CNI_IFNAME: 'eth0' }), { netnsRequired: true }))?.details, /CNI_NETNS/)
  t.same(parseCniArgs('A=1;junk;B=x=y'), { A: '1', B: 'x=y' })
})

t.test('configuration', async (t) => {
  t.equal(codeOf(() => decodeConfig('{'))?.code, 6)
  t.equal(codeOf(() => decodeConfig('[]'))?.code, 6)
  const cfg = parseConfig(good, 'ADD', {})
  t.equal(cfg.spec.name, 'pods', "the spec's name defaults to the CNI network name")
  t.equal(cfg.attachment, 'veth')
  t.equal(cfg.stateRoot, '/run/kvmnet')
  t.equal(parseConfig(good, 'ADD', { KVMNET_STATE_ROOT: '/tmp/s' }).stateRoot, '/tmp/s', 'KVMNET_STATE_ROOT')
  t.equal(parseConfig({ ...good, stateRoot: '/tmp/c' }, 'ADD', { KVMNET_STATE_ROOT: '/tmp/s' }).stateRoot, '/tmp/c', 'the configuration first')
  t.equal(parseConfig({ ...good, network: { ...network, name: 'other' } }, 'ADD').spec.name, 'other')
  t.equal(parseConfig({ ...good, cniVersion: '1.0.0' }, 'ADD').cniVersion, '1.0.0')
  t.same(parseConfig({ ...good, network: { ...network, ipv4: { address: '10.88.0.1/24', dhcp: { ranges: [{ start: '10.88.0.10', end: '10.88.0.19' }] } } } }, 'ADD').spec.ipv4?.dhcp?.ranges?.length, 1, 'several ranges are accepted')

  const cases: [string, Record<string, unknown>, number, RegExp][] = [
    ['no version', { ...good, cniVersion: undefined }, 1, /undefined/],
    ['old version', { ...good, cniVersion: '0.4.0' }, 1, /0\.4\.0/],
    ['no name', { ...good, name: undefined }, 7, /^name: /],
    ['no network', { ...good, network: undefined }, 7, /^network: /],
    ['bad spec field', { ...good, network: { ...network, mtu: 10 } }, 7, /^network\.mtu: /],
    ['range outside', { ...good, network: { ...network, ipv4: { address: '10.88.0.1/24', dhcp: { range: ['10.88.0.10', '10.89.0.1'] } } } }, 7, /^network\.ipv4\.dhcp\.range\[1\]: /],
    ['no dhcp', { ...good, network: { mode: 'nat', ipv4: { address: '10.88.0.1/24' } } }, 7, /^network\.ipv4\.dhcp: /],
    ['reservations only', { ...good, network: { mode: 'nat', ipv4: { address: '10.88.0.1/24', dhcp: { hosts: [{ mac: '52:54:00:00:00:01', ip: '10.88.0.5' }] } } } }, 7, /^network\.ipv4\.dhcp\.range: .*reservations only/],
    ['bridge mode', { ...good, network: { mode: 'bridge', interface: 'eth0' } }, 7, /^network\.mode: /],
    ['attachment', { ...good, attachment: 'ipvlan' }, 7, /^attachment: /],
    ['relative state root', { ...good, stateRoot: 'run' }, 7, /^stateRoot: /],
    ['tap owner', { ...good, attachment: 'tap', tap: { owner: -1 } }, 7, /^tap\.owner: /],
    ['mapping protocol', { ...good, runtimeConfig: { portMappings: [{ hostPort: 80, containerPort: 80, protocol: 'sctp' }] } }, 7, /portMappings\[0\]\.protocol/],
    ['mapping hostIP', { ...good, runtimeConfig: { portMappings: [{ hostPort: 80, containerPort: 80, hostIP: '::1' }] } }, 7, /portMappings\[0\]\.hostIP/],
    ['mac', { ...good, runtimeConfig: { mac: '01:00:5e:00:00:01' } }, 7, /^runtimeConfig\.mac: /],
  ]
  for (const [what, input, code, details] of cases) {
    const got = codeOf(() => parseConfig(input, 'ADD'))
    t.equal(got?.code, code, `${what}: code ${code}`)
    t.match(got?.details, details, `${what}: ${got?.details}`)
  }
  t.equal(codeOf(() => parseConfig({ ...good, cniVersion: '1.0.0' }, 'GC'))?.code, 1, 'GC needs 1.1.0')
  t.match(codeOf(() => parseConfig(good, 'GC'))?.details, /valid-attachments/, 'GC needs the list')
  t.same(parseConfig({ ...good, 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }] }, 'GC').validAttachments, [{ containerID: 'a', ifname: 'eth0' }])
  const maps = parseConfig({ ...good, runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'TCP', hostIP: '' }, { hostPort: 53, containerPort: 53, protocol: 'udp', hostIP: '203.0.113.1' }] } }, 'ADD')
  t.same(maps.portMappings, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostPort: 53, containerPort: 53, protocol: 'udp', hostIP: '203.0.113.1' }], 'protocols lower-cased; an empty hostIP is any')
})

t.test('VERSION', async (t) => {
  t.same(versionResult({ cniVersion: '1.0.0' }), { cniVersion: '1.0.0', supportedVersions: ['1.0.0', '1.1.0'] })
  t.same(versionResult({}), { cniVersion: '1.1.0', supportedVersions: ['1.0.0', '1.1.0'] })
})

t.test('attachment names', async (t) => {
  const k = { network: 'pods', containerId: 'f'.repeat(64), ifname: 'eth0' }
  t.match(hostIfname(k), /^kvc-[0-9a-f]{10}$/)
  t.match(innerIfname(k), /^kvp-[0-9a-f]{10}$/)
  t.not(hostIfname(k), hostIfname({ ...k, ifname: 'net1' }), 'one per interface of a container')
  const mac = attachmentMac(k, 'host-a')
  t.match(mac, /^02(:[0-9a-f]{2}){5}$/, 'locally administered unicast')
  t.equal(attachmentMac(k, 'host-a'), mac, 'stable')
  t.not(attachmentMac(k, 'host-b'), mac, 'differs between hosts')
  const alias = attachmentAlias(k, '0123abcd')
  t.equal(alias, `kvmnet:pods:cni/${'f'.repeat(64)}/eth0@0123abcd`)
  t.same(parseAlias(alias), { network: 'pods', role: `cni/${'f'.repeat(64)}/eth0`, root: '0123abcd' })
  t.ok(isAttachmentOf(alias, linkAlias('pods', 'port', '0123abcd')), "the network's teardown recognises it")
  t.notOk(isAttachmentOf(alias, linkAlias('pods', 'port', 'ffffffff')), 'not under another state root')
  t.notOk(isAttachmentOf(alias, linkAlias('pods2', 'port', '0123abcd')), 'not for another network')
  t.notOk(isAttachmentOf(linkAlias('pods', 'port', '0123abcd'), linkAlias('pods', 'port', '0123abcd')), 'a port is not an attachment')
  t.equal(recordFileName(k), `${'f'.repeat(64)}:eth0.json`)
  t.equal(dnsLabel('My_Pod.v2'), 'My-Pod-v2')
  t.equal(dnsLabel('--'), undefined)
  t.equal(dnsLabel('3600'), undefined, 'a dnsmasq lease time is no name')
  t.same(nameCandidates(k, { K8S_POD_NAME: 'web' }), ['web', 'web-eth0'])
  t.same(nameCandidates(k, {}), ['ffffffffffff', 'ffffffffffff-eth0'], "the container id's short form")
})
