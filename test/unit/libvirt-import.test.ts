/**
 * fromLibvirtXml against libvirt 9.0's own network test files: every file imports (a spec validateSpec
 * accepts, of the expected mode) or is refused naming an element it contains — the table in
 * test/helpers/libvirt-import-corpus.ts says which, and why. Plus the mappings by meaning, malformed XML, unknown elements.
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { LibvirtImportError, SpecError, fromLibvirtXml, validateSpec } from '../../src/index.js'
import { CORPUS } from '../helpers/libvirt-import-corpus.js'

const dir = fileURLToPath(new URL('./fixtures/libvirt/', import.meta.url))
const read = (f: string) => readFileSync(dir + f, 'utf8')

function refusal(xml: string, opts = {}): string {
  try {
    fromLibvirtXml(xml, opts)
  } catch (e) {
    if (e instanceof LibvirtImportError) return e.field
    throw e
  }
  return '(imported)'
}

t.test('every corpus file is in the table', async (t) => {
  const files = ['default.xml', ...['networkxml2confdata', 'networkxml2xmlin'].flatMap((d) => readdirSync(dir + d).filter((f) => f.endsWith('.xml')).map((f) => `${d}/${f}`))]
  t.same(files.filter((f) => !(f in CORPUS)), [], 'files missing from the table')
  t.same(Object.keys(CORPUS).filter((f) => !files.includes(f)), [], 'table rows without a file')
})

for (const [file, want] of Object.entries(CORPUS)) {
  t.test(file, async (t) => {
    const xml = read(file)
    if ('mode' in want) {
      const r = fromLibvirtXml(xml)
      t.equal(r.spec.mode, want.mode)
      t.doesNotThrow(() => validateSpec(r.spec), 'the spec validates')
    } else {
      const got = refusal(xml)
      t.equal(got, want.refused, want.why)
      const element = want.refused.slice(1).split(/[ >]/)[0] ?? ''
      t.match(xml, new RegExp(`<${element}[\\s/>]`), `the file contains <${element}>`)
    }
  })
}

t.test('default.xml is libvirt\'s default NAT network', async (t) => {
  const r = fromLibvirtXml(read('default.xml'), { netns: 'ki-x' })
  t.same(r.spec, { name: 'default', netns: 'ki-x', bridge: 'virbr0', mode: 'nat', ipv4: { address: '192.168.122.1/24', dhcp: { range: ['192.168.122.2', '192.168.122.254'] } }, dns: { enabled: true } })
  t.ok(r.notes.some((n) => n.includes('STP')), 'STP difference noted')
})

t.test('mapping by meaning', async (t) => {
  const iso = fromLibvirtXml(read('networkxml2confdata/isolated-network.xml')).spec as any
  t.same(iso.dns, { enabled: true, forwarders: [] }, "an isolated network forwards no queries (libvirt's no-resolv)")
  const open = fromLibvirtXml(read('networkxml2xmlin/open-network-with-forward-dev.xml'))
  t.notOk('uplink' in open.spec)
  t.ok(open.notes.some((n) => n.includes("dev='eth0'")))
  const direct = fromLibvirtXml(read('networkxml2xmlin/direct-net.xml')).spec
  t.same(direct, { name: 'direct-net', mode: 'macvtap', interface: 'eth10' })
  const quotes = fromLibvirtXml(read('networkxml2confdata/nat-network-name-with-quotes.xml'))
  t.equal(quotes.spec.name, 'default-with-quotes')
  t.ok(quotes.notes.some((n) => n.includes('default"with"quotes"')), 'the rename is noted')
  const host = fromLibvirtXml(read('networkxml2xmlin/host-bridge-net.xml'), { bridgeInterface: 'eth3' }).spec
  t.same(host, { name: 'host-bridge-net', mode: 'bridge', bridge: 'br0', interface: 'eth3' })
  t.equal(refusal(read('networkxml2xmlin/host-bridge-no-flood.xml'), { bridgeInterface: 'eth3' }), '<bridge macTableManager>')
  const vepa = '<network><name>v</name><forward mode="vepa" dev="eth1"/></network>'
  t.same(fromLibvirtXml(vepa).spec, { name: 'v', mode: 'macvtap', interface: 'eth1', macvtapMode: 'vepa' })
  const pt = '<network><name>p</name><forward mode="passthrough"><interface dev="eth1"/></forward></network>'
  t.same(fromLibvirtXml(pt).spec, { name: 'p', mode: 'macvtap', interface: 'eth1', macvtapMode: 'passthru' })
  const snat = `<network><name>s</name><forward mode="nat"><nat><address start="203.0.113.7" end="203.0.113.7"/></nat></forward><ip address="10.9.0.1" prefix="24"/></network>`
  t.equal((fromLibvirtXml(snat).spec as any).snat, '203.0.113.7')
  const bw = `<network><name>b</name><bandwidth><inbound average="1000" peak="2000" burst="1024"/></bandwidth><ip address="10.9.0.1" prefix="24"/></network>`
  t.same((fromLibvirtXml(bw).spec as any).bandwidth, { inbound: { average: 1000, peak: 2000, burst: 1024 } })
  t.equal(fromLibvirtXml('<network><name>e</name></network>').spec.mode, 'very-isolated')
  const leases = fromLibvirtXml(read('networkxml2confdata/leasetime-minutes.xml')).spec as any
  t.equal(leases.uplink, 'eth1')
  t.equal(leases.ipv4.dhcp.leaseTime, 600)
  t.same(leases.ipv4.dhcp.hosts.map((h: any) => h.leaseTime), [1200, 1800])
  const inf = fromLibvirtXml(read('networkxml2confdata/leasetime-infinite.xml')).spec as any
  t.equal(inf.ipv4.dhcp.leaseTime, 'infinite')
})

t.test('malformed XML, other documents and unknown parts are refused with a clear error', async (t) => {
  for (const bad of ['<network><name>x</name>', '<network><name>x</nam></network>', '<network a="1" a="2"/>', '<network/><x/>', '<network>&bogus;</network>', '', 'not xml']) {
    t.equal(refusal(bad), '(xml)', JSON.stringify(bad))
  }
  t.match(String((() => { try { fromLibvirtXml('<network><name>x</nam></network>') } catch (e) { return (e as Error).message } })()), /not well-formed XML: 1:\d+/)
  t.equal(refusal('<domain><name>x</name></domain>'), '<domain>')
  t.equal(refusal('<network><name>x</name><frobnicate/></network>'), '<frobnicate>')
  t.equal(refusal('<network><name>x</name><bridge name="b" flavour="x"/></network>'), '<bridge flavour>')
  t.equal(refusal('<network><name>x</name><forward mode="hostdev"/></network>'), '<forward mode>')
  t.equal(refusal('<network><name>x</name><forward mode="nat"><interface dev="a"/><interface dev="b"/></forward><ip address="10.9.0.1" prefix="24"/></network>'), '<interface dev>')
  t.equal(refusal('<network><name>x</name><forward mode="nat"><nat><address start="203.0.113.1" end="203.0.113.4"/></nat></forward><ip address="10.9.0.1" prefix="24"/></network>'), '<address end>')
  t.equal(refusal('<network><name>x</name><ip address="10.9.0.1" prefix="24"><dhcp><range start="10.9.0.9" end="10.9.0.20"><lease expiry="30" unit="seconds"/></range></dhcp></ip></network>'), '<lease expiry>')
  t.equal(refusal('<network><name>x</name><ip address="10.9.0.1" netmask="255.0.255.0"/></network>'), '<ip netmask>')
  t.equal(refusal('<network><name>x</name><portgroup name="g"><vlan><tag id="5"/></vlan></portgroup></network>'), '<portgroup>')
  const e = (() => { try { fromLibvirtXml('<network><name>x</name><forward mode="hostdev"/></network>') } catch (e) { return e } })()
  t.ok(e instanceof SpecError, 'a SpecError: exit 2 on the command line')
  t.equal((e as LibvirtImportError).element, '<forward>')
  t.equal((e as LibvirtImportError).attribute, 'mode')
})

t.test("forwarders limited to domains leave the namespace's resolvers in charge of other names, as libvirt", async (t) => {
  const { usesNamespaceResolvers } = await import('../../src/dnsmasq/index.js')
  t.equal(usesNamespaceResolvers(undefined), true, 'no forwarders: the namespace resolvers')
  t.equal(usesNamespaceResolvers([]), false, '[]: local names only')
  t.equal(usesNamespaceResolvers([{ domain: 'example.com', address: '192.0.2.1' }, { domain: 'www.example.com' }]), true, 'only domain forwarders (nat-network-dns-forwarder-no-resolv.conf has no no-resolv)')
  t.equal(usesNamespaceResolvers(['192.0.2.1', { domain: 'example.com' }]), false, 'a forwarder of every name replaces them (no-resolv)')
  t.equal(usesNamespaceResolvers([{ address: '192.0.2.1' }]), false)
})
