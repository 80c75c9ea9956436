/**
 * Every importable file of libvirt 9.0's network test corpus (test/unit/fixtures/libvirt, table in
 * test/helpers/libvirt-import-corpus.ts), imported and brought up in a `ki-` namespace, behaves as libvirt's
 * expected dnsmasq configuration for it says (its .conf and .hostsfile where libvirt has one, else the
 * XML): a guest leases from the DHCP range, each reserved MAC gets its address, DNS host/SRV/TXT records
 * answer, the domain is handed out, forwarders answer (fake upstream dnsmasq instances in an "internet"
 * namespace: libvirt's 8.8.8.8, 8.8.4.4 and 192.168.1.1 are rewritten to 203.0.113.8, .9 and
 * 198.51.100.1), the bridge has the MTU, and traffic goes out NATed, routed, or not at all, as the forward
 * mode says. Down leaves nothing. Real clients: busybox udhcpc, dig, socat.
 */
import t, { type Test } from 'tap'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetwork, fromLibvirtXml, type NetworkSpec } from '../../src/index.js'
import { dhcp, ping, tcpGet, tcpServer } from '../helpers/guest.js'
import { guestOn } from '../helpers/coexist.js'
import { assertNothingLeft } from '../helpers/leftovers.js'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'
import { CORPUS } from '../helpers/libvirt-import-corpus.js'

const P = 'ki'
const dir = fileURLToPath(new URL('../unit/fixtures/libvirt/', import.meta.url))
/** libvirt's upstream servers, moved into the test's own "internet" namespace. */
const REWRITE: [string, string][] = [
  ['8.8.8.8', '203.0.113.8'],
  ['8.8.4.4', '203.0.113.9'],
  ['192.168.1.1', '198.51.100.1'],
]

interface Expect {
  ranges: [string, string][]
  hosts: { mac: string; ip: string; name?: string }[]
  mtu?: number
  domain?: string
  srv: { name: string; target?: string; port?: number }[]
  txt: { name: string; value: string }[]
  /** server= lines: an address for every name, or a domain's own server ('#': the ordinary ones). */
  servers: { domain?: string; addr: string }[]
  noResolv: boolean
  dnsOff: boolean
}

/** What libvirt's .conf/.hostsfile say the network does (rewritten addresses applied). */
function fromConf(conf: string, hostsfile: string): Expect {
  const lines = conf.split('\n').filter((l) => !l.startsWith('#'))
  const val = (k: string) => lines.filter((l) => l.startsWith(`${k}=`)).map((l) => l.slice(k.length + 1))
  return {
    ranges: val('dhcp-range')
      .map((v) => v.split(','))
      .filter((f) => f[0]?.includes('.') && f[1]?.includes('.'))
      .map((f) => [f[0] ?? '', f[1] ?? '']),
    hosts: hostsfile
      .split('\n')
      .filter((l) => /^[0-9a-f]{2}:/i.test(l) && !l.startsWith('id:'))
      .map((l) => l.split(','))
      .filter((f) => f[1]?.includes('.') && !f[1].startsWith('['))
      .map((f) => ({ mac: f[0] ?? '', ip: f[1] ?? '', ...(f[2] && !/^\d|infinite/.test(f[2]) ? { name: f[2] } : {}) })),
    ...(val('dhcp-option').find((v) => v.startsWith('option:mtu,')) ? { mtu: Number(val('dhcp-option').find((v) => v.startsWith('option:mtu,'))?.split(',')[1]) } : {}),
    ...(val('domain')[0] ? { domain: val('domain')[0] } : {}),
    srv: val('srv-host').map((v) => {
      const [name = '', target, port] = v.split(',')
      return { name, ...(target ? { target } : {}), ...(port ? { port: Number(port) } : {}) }
    }),
    txt: val('txt-record').map((v) => ({ name: v.split(',')[0] ?? '', value: v.slice(v.indexOf(',') + 1) })),
    servers: val('server').map((v) => {
      const m = v.match(/^\/([^/]+)\/(.*)$/)
      return m ? { domain: m[1], addr: m[2] ?? '' } : { addr: v }
    }),
    noResolv: lines.includes('no-resolv'),
    dnsOff: lines.includes('port=0'),
  }
}

function rewrite(text: string): string {
  return REWRITE.reduce((s, [from, to]) => s.split(from).join(to), text)
}

/** A dnsmasq in `ns` answering on `addr` with fixed addresses for some domains. */
function upstream(t: Test, ns: TestNs, addr: string, answers: Record<string, string>): void {
  const d = mkdtempSync(join(tmpdir(), 'ki-up-'))
  t.teardown(() => rmSync(d, { recursive: true, force: true }))
  ns.spawn('dnsmasq', ['-k', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--bind-interfaces', `--listen-address=${addr}`, '--user=root', '--group=root', `--pid-file=${join(d, 'pid')}`, '--log-facility=-', ...Object.entries(answers).map(([dom, ip]) => `--address=/${dom}/${ip}`)])
}

function resolvConf(t: Test, ns: TestNs, text: string): void {
  const d = `/etc/netns/${ns.name}`
  const parentMade = !existsSync('/etc/netns')
  mkdirSync(d, { recursive: true })
  writeFileSync(join(d, 'resolv.conf'), text)
  t.teardown(() => {
    rmSync(d, { recursive: true, force: true })
    try {
      if (parentMade) rmdirSync('/etc/netns')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw err
    }
  })
}

async function dig(guest: TestNs, server: string, ...q: string[]): Promise<string> {
  return (await guest.try('dig', ['+short', '+time=2', '+tries=2', `@${server}`, ...q])).stdout.trim()
}

const toNum = (ip: string) => ip.split('.').reduce((n, b) => n * 256 + Number(b), 0)

/** 10.24.10.1/8 → 10.0.0.0/8 (ip route wants the network's own address). */
function networkOf(cidr: string): string {
  const [a = '', p = '32'] = cidr.split('/')
  const n = (toNum(a) & (Number(p) === 0 ? 0 : ~0 << (32 - Number(p)))) >>> 0
  return `${[24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')}/${p}`
}

let seq = 0
function mac(): string {
  seq++
  return `52:54:00:4b:${(seq >> 8).toString(16).padStart(2, '0')}:${(seq & 255).toString(16).padStart(2, '0')}`
}

async function check(t: Test, file: string): Promise<void> {
  const xml = rewrite(readFileSync(dir + file, 'utf8'))
  const confFile = dir + file.replace(/\.xml$/, '.conf')
  const confData = file.replace('networkxml2xmlin/', 'networkxml2confdata/')
  const conf = existsSync(confFile) ? confFile : existsSync(dir + confData.replace(/\.xml$/, '.conf')) && readFileSync(dir + confData, 'utf8') === readFileSync(dir + file, 'utf8') ? dir + confData.replace(/\.xml$/, '.conf') : undefined
  const host = await makeNs(t, P)
  const inet = await makeNs(t, P)
  const { spec: imported } = fromLibvirtXml(xml, { netns: host.name })
  const spec = imported as NetworkSpec & Record<string, any>
  const uplink: string = spec.uplink ?? 'uplink0'
  await host.ip([`link add ${uplink} type veth peer name eth0 netns ${inet.name}`, `addr add 203.0.113.1/24 dev ${uplink}`, `link set ${uplink} up`, 'route add default via 203.0.113.2'].join('\n'))
  const subnets = [spec.ipv4, ...(spec.ipv4?.extra ?? [])].filter(Boolean).map((s: any) => s.address as string)
  await inet.ip(['addr add 203.0.113.2/24 dev eth0', 'addr add 203.0.113.8/24 dev eth0', 'addr add 203.0.113.9/24 dev eth0', 'addr add 198.51.100.1/24 dev eth0', 'link set eth0 up', ...subnets.map((s) => `route add ${networkOf(s)} via 203.0.113.1`)].join('\n'))
  upstream(t, inet, '203.0.113.2', { 'example.com': '203.0.113.80', 'outside.test': '203.0.113.80' })
  upstream(t, inet, '203.0.113.8', { 'outside.test': '203.0.113.88', 'www.example.com': '203.0.113.98' })
  upstream(t, inet, '203.0.113.9', { 'outside.test': '203.0.113.89', 'www.example.com': '203.0.113.98' })
  upstream(t, inet, '198.51.100.1', { 'example.com': '198.51.100.80' })
  resolvConf(t, host, 'nameserver 203.0.113.2\n')
  for (const a of ['203.0.113.2', '203.0.113.8', '203.0.113.9', '198.51.100.1']) await waitFor(async () => (await inet.run('ss', ['-Hlun', `src ${a}:53`])).trim() !== '' || undefined, 5000, 50)
  tcpServer(inet, 8080, 'outside')
  await waitFor(async () => (await inet.run('ss', ['-Hltn', 'sport = :8080'])).trim() !== '' || undefined, 5000, 50)
  if (spec.mode === 'macvtap') await host.ip(`link add ${spec.interface} type veth peer name ki-peer\nlink set ${spec.interface} up\nlink set ki-peer up`)

  const net = createNetwork(spec, { netns: host.name, stateRoot: `/run/kvmnet-test/${host.name}`, dnsmasq: 'detached' })
  t.teardown(() => net.down().catch(() => undefined))
  await net.up()
  const want: Expect = conf
    ? fromConf(rewrite(readFileSync(conf, 'utf8')), existsSync(conf.replace(/\.conf$/, '.hostsfile')) ? readFileSync(conf.replace(/\.conf$/, '.hostsfile'), 'utf8') : '')
    : {
        ranges: spec.ipv4?.dhcp?.range ? [spec.ipv4.dhcp.range] : [],
        hosts: spec.ipv4?.dhcp?.hosts ?? [],
        ...(spec.mtu ? { mtu: spec.mtu } : {}),
        ...(spec.dns?.domain ? { domain: spec.dns.domain } : {}),
        srv: [],
        txt: [],
        servers: (spec.dns?.forwarders ?? []).map((f: any) => (typeof f === 'string' ? { addr: f } : { ...(f.domain ? { domain: f.domain } : {}), addr: f.address ?? '#' })),
        noResolv: spec.mode === 'isolated' || (spec.dns?.forwarders ?? []).some((f: any) => typeof f === 'string' || !f.domain),
        dnsOff: spec.dns?.enabled === false,
      }
  t.comment(`${file}: ${spec.mode}${conf ? ' (checked against libvirt\'s .conf)' : ''}`)
  const bridge = net.bridge ?? ''
  if (spec.mode === 'macvtap') {
    await net.down()
    await assertNothingLeft(t, host, spec.name)
    return
  }
  if (want.mtu) t.equal(JSON.parse(await host.run('ip', ['-j', 'link', 'show', bridge]))[0].mtu, want.mtu, `bridge MTU ${want.mtu}`)

  if (spec.mode === 'very-isolated') {
    const a = await guestOn(t, host, bridge, 'ki-va', P)
    const b = await guestOn(t, host, bridge, 'ki-vb', P)
    await a.ip('addr add 10.99.0.1/24 dev eth0')
    await b.ip('addr add 10.99.0.2/24 dev eth0')
    t.ok(await ping(a, '10.99.0.2'), 'guests reach each other on the bridge')
    t.notOk(await dhcp(a, 'eth0', { tries: 2 }), 'no DHCP')
  } else if (spec.ipv4) {
    const gw = (spec.ipv4.address as string).split('/')[0] ?? ''
    let guest: TestNs | undefined
    let guestIp = ''
    for (const [start, end] of want.ranges) {
      const g = await guestOn(t, host, bridge, `ki-g${seq}`, P, mac())
      const lease = await dhcp(g)
      t.ok(lease && toNum(lease.ip) >= toNum(start) && toNum(lease.ip) <= toNum(end), `a guest leases from ${start}-${end} (got ${lease?.ip})`)
      if (want.domain) t.equal(lease?.domain, want.domain, `the domain ${want.domain} is handed out`)
      if (!want.dnsOff && lease) t.equal(lease.dns, gw, 'DNS server is the gateway')
      guest ??= g
      guestIp ||= lease?.ip ?? ''
    }
    for (const h of want.hosts) {
      const g = await guestOn(t, host, bridge, `ki-h${seq++}`, P, h.mac)
      const lease = await dhcp(g)
      t.equal(lease?.ip, h.ip, `reserved ${h.mac} gets ${h.ip}`)
      // dnsmasq (libvirt's as kvmnet's) gives a reserved name DNS only without a domain part or in its own domain.
      const named = h.name && (!h.name.includes('.') || (want.domain && h.name.endsWith(`.${want.domain}`)))
      if (named && !want.dnsOff) t.equal(await dig(g, gw, h.name ?? ''), h.ip, `${h.name} resolves to ${h.ip}`)
    }
    if (!guest) {
      // No DHCP range: a guest with a fixed address in the subnet.
      guest = await guestOn(t, host, bridge, `ki-s${seq++}`, P)
      guestIp = gw.replace(/\.\d+$/, '.77')
      await guest.ip(`addr add ${guestIp}/${(spec.ipv4.address as string).split('/')[1]} dev eth0\nroute add default via ${gw}`)
    }
    if (want.dnsOff) {
      const r = await guest.try('dig', ['+time=1', '+tries=1', `@${gw}`, 'example.com'])
      t.match(r.stdout, /connection refused|timed out|no servers/, 'no DNS server answers (dns enable=no)')
    } else {
      for (const h of spec.dns?.hosts ?? []) t.equal(await dig(guest, gw, h.name, h.name.includes(':') ? 'AAAA' : h.ip.includes(':') ? 'AAAA' : 'A'), h.ip, `DNS host ${h.name} → ${h.ip}`)
      for (const s of want.srv) {
        const out = await dig(guest, gw, 'SRV', s.name)
        if (s.target) t.match(out, new RegExp(`\\b${s.port ?? 0}\\s+${s.target.replace(/\./g, '\\.')}\\.$`, 'm'), `SRV ${s.name} → ${s.target}:${s.port ?? ''}`)
        else t.ok((await guest.try('dig', ['+time=2', `@${gw}`, 'SRV', s.name])).stdout.includes('status: NOERROR'), `SRV ${s.name} answers`)
      }
      for (const x of want.txt) t.equal(await dig(guest, gw, 'TXT', x.name), JSON.stringify(x.value), `TXT ${x.name}`)
      const plain = want.servers.filter((s) => !s.domain).map((s) => s.addr)
      if (plain.length > 0) t.ok(['203.0.113.88', '203.0.113.89'].includes(await dig(guest, gw, 'outside.test')), `outside names answered by the forwarders ${plain.join(', ')}`)
      else if (!want.noResolv) t.equal(await dig(guest, gw, 'outside.test'), '203.0.113.80', "outside names answered by the namespace's resolver")
      else t.equal(await dig(guest, gw, 'outside.test'), '', 'no upstream: outside names unanswered (no-resolv)')
      for (const s of want.servers.filter((x) => x.domain)) {
        if (s.addr === '#') t.equal(await dig(guest, gw, `a.${s.domain}`), plain.length ? '203.0.113.98' : '', `${s.domain} goes to the ordinary servers`)
        else t.equal(await dig(guest, gw, `host.${s.domain}`), s.addr === '198.51.100.1' ? '198.51.100.80' : '', `${s.domain} goes to ${s.addr}`)
      }
    }
    const reply = await tcpGet(guest, '203.0.113.2', 8080)
    if (spec.mode === 'nat') t.equal(reply, `outside ${spec.snat ?? '203.0.113.1'}`, 'the outside is reached, NATed')
    else if (spec.mode === 'routed' || spec.mode === 'open') t.equal(reply, `outside ${guestIp}`, 'the outside is reached, routed with the guest\'s own address')
    else t.equal(reply, undefined, 'isolated: the outside is not reached')
  } else if (spec.ipv6) {
    const g = await guestOn(t, host, bridge, `ki-6${seq++}`, P)
    const prefix = (spec.ipv6.address as string).split('::')[0] ?? ''
    const addr = await waitFor(async () => (await g.run('ip', ['-6', '-br', 'addr', 'show', 'dev', 'eth0'])).split(/\s+/).find((a) => a.startsWith(prefix)), 15_000, 100)
    t.ok(addr, `the guest autoconfigures in ${prefix}::/64 from router advertisements (${addr})`)
    // The new address is tentative until duplicate address detection is done.
    const gw6 = (spec.ipv6.address as string).split('/')[0] ?? ''
    const reached = await waitFor(async () => (await g.try('busybox', ['ping6', '-c', '1', '-W', '1', gw6])).exitCode === 0 || undefined, 10_000, 200).catch(() => false)
    t.ok(reached, 'the guest reaches the host over IPv6')
  }
  await net.down()
  await assertNothingLeft(t, host, spec.name)
}

for (const [file, want] of Object.entries(CORPUS)) {
  if (!('mode' in want)) continue
  t.test(file, async (t) => check(t, file))
}
