/**
 * The libvirt `<interface>` element for a kvmnet port (golden text), its escaping, and the Network
 * method that finds the port by name. No root: nothing is brought up.
 */
import t from 'tap'
import { NotFoundError, SpecError, createNetwork } from '../../src/index.js'
import { libvirtInterfaceXml, xmlAttr } from '../../src/libvirt-host/index.js'

t.test('a tap port: type ethernet, the existing device unmanaged, the guest MAC, virtio', async (t) => {
  t.equal(
    libvirtInterfaceXml({ name: 'vm0', kind: 'tap', mac: '52:54:00:12:34:56' }),
    `<interface type='ethernet'>
  <mac address='52:54:00:12:34:56'/>
  <target dev='vm0' managed='no'/>
  <model type='virtio'/>
</interface>
`,
  )
})

t.test('a multiqueue tap asks libvirt for as many queues; a macvtap is the same element', async (t) => {
  t.match(libvirtInterfaceXml({ name: 'mq0', kind: 'tap', mac: '52:54:00:00:00:01', queues: 4 }), /<model type='virtio'\/>\n {2}<driver queues='4'\/>\n<\/interface>/)
  const mv = libvirtInterfaceXml({ name: 'mvt0', kind: 'macvtap', mac: '52:54:00:00:00:02' })
  t.match(mv, /^<interface type='ethernet'>\n/)
  t.match(mv, /<target dev='mvt0' managed='no'\/>/)
  t.notMatch(mv, /direct|source/, 'not type=direct: libvirt would make a macvtap of its own')
  t.equal(libvirtInterfaceXml({ name: 'x', kind: 'tap', mac: '52:54:00:00:00:03' }, '    ').split('\n')[0], "    <interface type='ethernet'>", 'indented for a domain')
})

t.test('attributes are escaped for either quote; characters XML cannot carry are refused', async (t) => {
  t.equal(xmlAttr(`a'b"c<d>e&f`), 'a&apos;b&quot;c&lt;d&gt;e&amp;f')
  t.equal(xmlAttr('&amp;'), '&amp;amp;', 'an entity is text, escaped again')
  t.equal(xmlAttr('vm.0-a_B'), 'vm.0-a_B')
  t.match(libvirtInterfaceXml({ name: `o'dd&<n>`, kind: 'tap', mac: '52:54:00:00:00:04' }), /dev='o&apos;dd&amp;&lt;n&gt;'/)
  t.throws(() => xmlAttr('a\u0001b'), SpecError)
})

t.test('a non-persistent tap is refused: libvirt opens taps by name', async (t) => {
  t.throws(() => libvirtInterfaceXml({ name: 'fd0', kind: 'tap', mac: '52:54:00:00:00:05', persistent: false }), SpecError)
})

t.test('Network.libvirtInterfaceXml finds the port of the spec, with its derived MAC', async (t) => {
  const net = createNetwork({ name: 'lvx', mode: 'nat', ipv4: { address: '10.80.0.1/24' }, ports: [{ name: 'vm0' }, { name: 'vm1', mac: '52:54:00:AB:CD:EF', queues: 2 }] })
  t.teardown(() => net.close())
  t.match(net.libvirtInterfaceXml('vm0'), /<mac address='52:54:00:[0-9a-f:]{8}'\/>\n {2}<target dev='vm0' managed='no'\/>/)
  t.match(net.libvirtInterfaceXml('vm1'), /<mac address='52:54:00:ab:cd:ef'\/>[\s\S]*<driver queues='2'\/>/, 'MAC lower-cased as kvmnet plans it')
  t.throws(() => net.libvirtInterfaceXml('nope'), NotFoundError)
  const mv = createNetwork({ name: 'lvm', mode: 'macvtap', interface: 'eth9', ports: [{ name: 'mv0' }] })
  t.teardown(() => mv.close())
  t.match(mv.libvirtInterfaceXml('mv0'), /<target dev='mv0' managed='no'\/>/)
})
