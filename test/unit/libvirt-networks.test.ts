/**
 * Reading libvirt's network files (a definition as `virsh net-dumpxml` prints it, a status file as
 * libvirtd writes it under /run/libvirt/network) and the collisions of a kvmnet network with them.
 * No root: files in a temporary directory.
 */
import t from 'tap'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { libvirtCollisions, libvirtNetworks, parseLibvirtNetwork } from '../../src/libvirt-host/index.js'

// libvirt's stock default network (src/network/default.xml.in).
const DEFAULT = `<network>
  <name>default</name>
  <bridge name='virbr0'/>
  <forward/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
`
const STATUS = `<!--
WARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE
OVERWRITTEN AND LOST.
-->
<networkstatus>
  <class_id bitmap='0-2'/>
  <floor sum='0'/>
  <network>
    <name>l&amp;v</name>
    <uuid>5c1c4b0c-3c53-4a9c-9b9e-7a7c6a0f2b11</uuid>
    <forward mode='nat'>
      <nat><port start='1024' end='65535'/></nat>
    </forward>
    <bridge name="virbr7" stp='on' delay='0'/>
    <mac address='52:54:00:0b:0b:0b'/>
    <dns><host ip='10.90.0.5'><hostname>h</hostname></host></dns>
    <ip address='10.90.0.1' prefix='24'/>
    <ip family='ipv6' address='fd00:90::1' prefix='64'/>
  </network>
</networkstatus>
`

t.test('a definition and a status file', async (t) => {
  t.same(parseLibvirtNetwork(DEFAULT, 'd.xml', false), { name: 'default', active: false, bridge: 'virbr0', subnets: ['192.168.122.0/24'], file: 'd.xml' })
  t.same(parseLibvirtNetwork(STATUS, 's.xml', true), { name: 'l&v', active: true, bridge: 'virbr7', subnets: ['10.90.0.0/24', 'fd00:90::/64'], file: 's.xml' }, "a DNS host's ip attribute is no <ip> element")
  t.same(parseLibvirtNetwork("<network><name>c</name><ip address='10.3.4.1'/></network>", 'c', false)?.subnets, ['10.0.0.0/8'], 'no prefix: the class, as libvirt')
  t.equal(parseLibvirtNetwork('<domain/>', 'x', false), undefined)
  t.same(parseLibvirtNetwork("<network><name>n</name><ip address='bogus' prefix='24'/></network>", 'n', false)?.subnets, [], 'an unreadable address is skipped')
  const commented = "<network><name>e</name><!-- was: <bridge name='virbr9'/> <ip address='10.9.0.1' prefix='24'/> --><bridge name='virbr3'/><ip address='10.3.0.1' prefix='24'/></network>"
  t.same(parseLibvirtNetwork(commented, 'e', false), { name: 'e', active: false, bridge: 'virbr3', subnets: ['10.3.0.0/24'], file: 'e' }, 'a commented-out element is no element')
})

t.test('the running and the defined networks of a libvirt state', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmnet-lvnets-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'run'))
  mkdirSync(join(dir, 'etc'))
  writeFileSync(join(dir, 'run', 'lv.xml'), STATUS)
  writeFileSync(join(dir, 'etc', 'lv.xml'), STATUS.replace(/[\s\S]*(<network>[\s\S]*<\/network>)[\s\S]*/, '$1'))
  writeFileSync(join(dir, 'etc', 'default.xml'), DEFAULT)
  writeFileSync(join(dir, 'etc', 'notes.txt'), 'not xml')
  const nets = await libvirtNetworks({ active: join(dir, 'run'), defined: join(dir, 'etc') })
  t.same(nets.map((n) => [n.name, n.active]), [['l&v', true], ['default', false]], 'running once, as running; the defined one as defined')
  t.same(await libvirtNetworks({ active: join(dir, 'none'), defined: join(dir, 'none2') }), [], 'no libvirt: nothing')
})

t.test('collisions by bridge name and by overlapping subnets of either family', async (t) => {
  const nets = [parseLibvirtNetwork(DEFAULT, 'd', false), parseLibvirtNetwork(STATUS, 's', true)].flatMap((n) => n ?? [])
  t.same(libvirtCollisions({ bridge: 'kvbr-a', subnet: '10.91.0.0/24' }, nets), [], 'nothing shared')
  t.same(libvirtCollisions({ bridge: 'virbr0' }, nets).map((c) => [c.network.name, c.field, c.what]), [['default', 'bridge', 'bridge virbr0']])
  t.same(libvirtCollisions({ subnet: '192.168.0.0/16' }, nets).map((c) => [c.network.name, c.field]), [['default', 'ipv4.address']], 'a wider subnet overlaps')
  t.same(libvirtCollisions({ subnet: '10.90.0.128/25' }, nets).map((c) => c.what), ['10.90.0.128/25 overlaps 10.90.0.0/24'], 'a narrower one too')
  t.same(libvirtCollisions({ subnet6: 'fd00:90::/48' }, nets).map((c) => [c.network.name, c.field]), [['l&v', 'ipv6.address']])
})
