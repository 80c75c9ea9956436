/**
 * Coexistence's pure parts: the rules kvmnet gives Docker's DOCKER-USER and ufw (byte for byte, in the
 * words the tools print back), reading `iptables -S` and `ufw show added` (real outputs, captured from
 * iptables 1.8.9 and ufw 0.36.2), which tables belong to whom, and firewalld's zone dispatch.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { detectFrom, dockerFixCommands, dockerRules, parseShowAdded, splitRuleLine, taggedRules, ufwArgs, ufwRules } from '../../src/coexist/index.js'
import { firewalldZoneOf } from '../../src/doctor/firewalls.js'
import { kindOf } from '../../src/network/index.js'
import { SpecError, validateSpec } from '../../src/index.js'

const fixture = (f: string) => readFileSync(new URL(`fixtures/coexist/${f}`, import.meta.url), 'utf8')

t.test('DOCKER-USER rules: in and out for routing kinds, bridge-to-bridge for the others', async (t) => {
  t.same(dockerRules({ network: 'n1', bridge: 'kvbr-n1', scope: 'routed' }), [
    ['-i', 'kvbr-n1', '-m', 'comment', '--comment', 'kvmnet:n1', '-j', 'ACCEPT'],
    ['-o', 'kvbr-n1', '-m', 'comment', '--comment', 'kvmnet:n1', '-j', 'ACCEPT'],
  ])
  t.same(dockerRules({ network: 'n1', bridge: 'br0', scope: 'bridged' }), [['-i', 'br0', '-o', 'br0', '-m', 'comment', '--comment', 'kvmnet:n1', '-j', 'ACCEPT']])
  t.same(dockerFixCommands({ network: 'n1', bridge: 'kvbr-n1', scope: 'routed' }, 6), ['ip6tables -I DOCKER-USER -i kvbr-n1 -j ACCEPT', 'ip6tables -I DOCKER-USER -o kvbr-n1 -j ACCEPT'])
})

t.test('iptables -S lines split like a shell; only rules with exactly the tag are taken', async (t) => {
  const listing = fixture('docker-user-S.txt')
  t.same(splitRuleLine('-A DOCKER-USER -i kvbr-b -m comment --comment "say \\"hi\\" \\\\ there" -j ACCEPT'), ['-A', 'DOCKER-USER', '-i', 'kvbr-b', '-m', 'comment', '--comment', 'say "hi" \\ there', '-j', 'ACCEPT'])
  t.same(taggedRules(listing, 'DOCKER-USER', 'kvmnet:a'), [['-i', 'kvbr-a', '-m', 'comment', '--comment', 'kvmnet:a', '-j', 'ACCEPT']], "'kvmnet:a b' is another tag")
  t.same(taggedRules(listing, 'DOCKER-USER', 'kvmnet:a b'), [['-i', 'kvbr-b', '-m', 'comment', '--comment', 'kvmnet:a b', '-j', 'ACCEPT']])
  t.same(taggedRules(listing, 'FORWARD', 'kvmnet:a'), [])
})

t.test('ufw rules in canonical words; add and delete carry the comment', async (t) => {
  const rules = ufwRules({ bridge: 'kvbr-x', scope: 'routed', hostPorts: [{ proto: 'udp', port: 67 }, { proto: 'any', port: 53 }] })
  t.same(rules, ['route allow in on kvbr-x', 'route allow out on kvbr-x', 'allow in on kvbr-x to any port 67 proto udp', 'allow in on kvbr-x to any port 53'])
  t.same(ufwRules({ bridge: 'br0', scope: 'bridged', hostPorts: [] }), ['route allow in on br0 out on br0'])
  t.same(ufwArgs('route allow in on kvbr-x', 'x', 'add'), ['route', 'allow', 'in', 'on', 'kvbr-x', 'comment', 'kvmnet:x'])
  t.same(ufwArgs('route allow in on kvbr-x', 'x', 'delete'), ['route', 'delete', 'allow', 'in', 'on', 'kvbr-x', 'comment', 'kvmnet:x'])
  t.same(ufwArgs('allow in on kvbr-x to any port 53', 'x', 'delete'), ['delete', 'allow', 'in', 'on', 'kvbr-x', 'to', 'any', 'port', '53', 'comment', 'kvmnet:x'])
  t.same(parseShowAdded(fixture('ufw-show-added.txt')), [
    { rule: 'route allow in on kvbr-x', comment: 'kvmnet:x' },
    { rule: 'route allow out on kvbr-x', comment: 'kvmnet:x' },
    { rule: 'allow in on kvbr-x to any port 67 proto udp', comment: 'other' },
    { rule: 'route allow in on kvbr-x out on kvbr-x', comment: 'kvmnet:x' },
    { rule: 'allow in on kvbr-x to any port 53', comment: undefined },
  ])
})

t.test('who owns a dropping chain', async (t) => {
  const d = detectFrom([
    { family: 'ip', table: 'filter', name: 'FORWARD', hook: 'forward', policy: 'drop' },
    { family: 'ip', table: 'filter', name: 'DOCKER-USER' },
    { family: 'ip', table: 'filter', name: 'INPUT', hook: 'input', policy: 'drop' },
    { family: 'ip6', table: 'filter', name: 'INPUT', hook: 'input', policy: 'drop' },
    { family: 'ip6', table: 'filter', name: 'ufw6-user-input' },
    { family: 'inet', table: 'filter', name: 'forward', hook: 'forward', policy: 'drop' },
    { family: 'inet', table: 'kvmnet_x', name: 'forward', hook: 'forward', policy: 'drop' },
    { family: 'inet', table: 'firewalld', name: 'filter_INPUT', hook: 'input', policy: 'accept' },
  ])
  t.same(d.docker, [4])
  t.equal(d.ufw, true)
  t.equal(d.firewalld, true)
  t.same(
    d.foreignDrops.map((c) => `${c.family} ${c.table} ${c.name}`),
    ['ip filter INPUT', 'inet filter forward'],
    "ip filter INPUT drops without ufw in that family, and is nobody's; Docker's FORWARD, ufw's ip6 INPUT and kvmnet's own are not foreign",
  )
})

t.test("firewalld's zone of an interface, from its filter_INPUT_ZONES chain (firewalld 1.3.3)", async (t) => {
  const doc = JSON.parse(fixture('firewalld-input-zones.json')) as { nftables: [] }
  t.same(firewalldZoneOf(doc, 'kvbr-a'), { zone: 'trusted', explicit: true })
  t.same(firewalldZoneOf(doc, 'kvbr-web'), { zone: 'internal', explicit: true }, "a wildcard binding ('kvbr-w+')")
  t.same(firewalldZoneOf(doc, 'kvbr-zz'), { zone: 'public', explicit: false }, 'no zone: the default zone')
})

t.test('targets: on by default, off for open networks unless asked; host ports from dnsmasq and host.services', async (t) => {
  const target = (spec: unknown) => {
    const s = validateSpec(spec)
    return kindOf(s).plan('/run/kvmnet-x').coexistTarget()
  }
  const nat = { name: 'a', mode: 'nat', ipv4: { address: '10.1.0.1/24', dhcp: { range: ['10.1.0.10', '10.1.0.20'] } }, ipv6: { address: 'fd00:1::1/64', dhcp: { range: ['fd00:1::10', 'fd00:1::20'] } } }
  t.same(target(nat), { network: 'a', bridge: 'kvbr-a', scope: 'routed', hostPorts: [{ proto: 'udp', port: 67 }, { proto: 'any', port: 53 }, { proto: 'udp', port: 547 }], zone: true })
  t.equal(target({ ...nat, firewall: { coexist: false } }), undefined)
  t.same(target({ name: 'i', mode: 'isolated', host: { services: [{ proto: 'tcp', port: 22 }, { proto: 'udp', port: 53 }] }, ipv4: { address: '10.2.0.1/24' }, dns: {} })?.hostPorts, [{ proto: 'any', port: 53 }, { proto: 'tcp', port: 22 }])
  t.equal(target({ name: 'o', mode: 'open', ipv4: { address: '10.3.0.1/24' } }), undefined)
  t.equal(target({ name: 'o', mode: 'open', ipv4: { address: '10.3.0.1/24' }, firewall: { coexist: true } })?.scope, 'routed')
  t.same(target({ name: 'b', mode: 'bridge', interface: 'eth0' }), { network: 'b', bridge: 'kvbr-b', scope: 'bridged', hostPorts: [], zone: false })
  t.equal(target({ name: 'm', mode: 'macvtap', interface: 'eth0' }), undefined)
  const fieldOf = (spec: unknown) => {
    try {
      validateSpec(spec)
    } catch (err) {
      return err instanceof SpecError ? err.field : 'not a SpecError'
    }
    return 'valid'
  }
  t.equal(fieldOf({ ...nat, firewall: { coexist: 'yes' } }), 'firewall.coexist')
  t.equal(fieldOf({ ...nat, firewall: { coexit: true } }), 'firewall.coexit')
  t.equal(fieldOf({ name: 'm', mode: 'macvtap', interface: 'eth0', firewall: {} }), 'firewall', 'macvtap networks have no bridge to let through')
})
