/**
 * Real packets through the rules kvmnet renders. Topology (all throwaway namespaces, prefix kvc):
 *
 *   guest1 (192.168.100.10) ─┐                         ┌─ "internet" ns: eth0 203.0.113.2/24
 *   guest2 (192.168.100.11) ─┴─ host ns: br0 192.168.100.1/24, up0 203.0.113.1/24 ─┘  (no route back to
 *                                                                                     192.168.100.0/24)
 * ip_forward is set inside the host namespace only. Servers are socat listeners that answer each
 * connection with the peer address they saw and their own port, so what NAT did is read off the reply.
 */
import t, { type Test } from 'tap'
import ipaddr from 'ipaddr.js'
import { makeNs, waitFor, type TestNs } from '../helpers/ns.js'
import { appends } from '../helpers/nft-adds-cases.js'
import { Nft, renderRules, requiredSysctls, type NetworkRules } from '../../src/nft/index.js'

interface Topo {
  host: TestNs
  inet: TestNs
  g1: TestNs
  g2: TestNs
  nft: Nft
}

async function topology(t: Test, opts: { ipv6?: boolean } = {}): Promise<Topo> {
  const [host, inet, g1, g2] = [await makeNs(t, 'kvc'), await makeNs(t, 'kvc'), await makeNs(t, 'kvc'), await makeNs(t, 'kvc')]
  await host.ip(
    [
      'link add br0 type bridge',
      'addr add 192.168.100.1/24 dev br0',
      'link set br0 up',
      `link add up0 type veth peer name eth0 netns ${inet.name}`,
      'addr add 203.0.113.1/24 dev up0',
      'link set up0 up',
      `link add vg1 type veth peer name eth0 netns ${g1.name}`,
      `link add vg2 type veth peer name eth0 netns ${g2.name}`,
      'link set vg1 master br0 up',
      'link set vg2 master br0 up',
      ...(opts.ipv6 ? ['addr add fd00:100::1/64 dev br0 nodad', 'addr add 2001:db8:1::1/64 dev up0 nodad'] : []),
    ].join('\n'),
  )
  await inet.ip(['addr add 203.0.113.2/24 dev eth0', 'link set eth0 up', ...(opts.ipv6 ? ['addr add 2001:db8:1::2/64 dev eth0 nodad'] : [])].join('\n'))
  for (const [g, n] of [[g1, 10], [g2, 11]] as const) {
    await g.ip(
      [
        `addr add 192.168.100.${n}/24 dev eth0`,
        'link set eth0 up',
        'route add default via 192.168.100.1',
        ...(opts.ipv6 ? [`addr add fd00:100::${n}/64 dev eth0 nodad`, 'route add default via fd00:100::1'] : []),
      ].join('\n'),
    )
  }
  await host.run('sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
  if (opts.ipv6) await host.run('sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1'])
  return { host, inet, g1, g2, nft: new Nft({ path: host.path, name: host.name }) }
}

const baseRules: NetworkRules = {
  tag: 'kvctest',
  bridge: 'br0',
  mode: 'nat',
  ipv4: { subnet: '192.168.100.0/24', hostAddress: '192.168.100.1' },
}

/** A TCP (or UDP) server in `ns` replying "<peer address> <peer port> <own port>" to each client. */
async function serve(ns: TestNs, proto: 'tcp' | 'udp', port: number, addr?: string): Promise<void> {
  const family = addr?.includes(':') ? '6' : '4'
  const listen = proto === 'tcp' ? `TCP${family}-LISTEN:${port},reuseaddr,fork` : `UDP${family}-RECVFROM:${port},fork`
  // Read the client's line first: closing with unread data would RST the connection and lose the reply.
  // (No ':' or ',' in the command: socat's address syntax would split on them.)
  ns.spawn('socat', [listen, `SYSTEM:read line; echo $SOCAT_PEERADDR $SOCAT_PEERPORT ${port}`])
  const flag = proto === 'tcp' ? '-ltnH' : '-lunH'
  await waitFor(async () => (await ns.run('ss', [flag, `sport = :${port}`])).trim() !== '', 5000)
}

interface Reply {
  ok: boolean
  peer?: string
  peerPort?: number
  serverPort?: number
  stderr: string
}

/** Connect from `ns` and parse the server's reply. `bind` sets the client's source (address and/or port). */
async function ask(ns: TestNs, proto: 'tcp' | 'udp', to: string, port: number, bind?: string): Promise<Reply> {
  const host = to.includes(':') ? `[${to}]` : to
  const target = proto === 'tcp' ? `TCP:${host}:${port},connect-timeout=3` : `UDP:${host}:${port}`
  const r = await ns.try('socat', ['-t', '3', '-T', '3', 'STDIO', `${target}${bind ? `,${bind}` : ''}`], { input: 'ping\n', timeout: 15_000 })
  const m = /^(\S+) (\d+) (\d+)$/m.exec(r.stdout.trim())
  if (r.exitCode !== 0 || !m) return { ok: false, stderr: r.stderr }
  // socat prints IPv6 peers expanded and bracketed: compare in canonical form.
  const peer = ipaddr.parse(m[1]!.replace(/^\[|\]$/g, '')).toString()
  return { ok: true, peer, peerPort: Number(m[2]), serverPort: Number(m[3]), stderr: r.stderr }
}

async function setSysctls(ns: TestNs, rules: NetworkRules): Promise<void> {
  for (const s of requiredSysctls(rules)) await ns.run('sysctl', ['-qw', `${s.key}=${s.value}`])
}

/** Rule count per kvmnet table, read with plain nft (not through the code under test). */
async function ruleCounts(ns: TestNs): Promise<Record<string, number>> {
  const doc = JSON.parse(await ns.run('nft', ['-j', 'list', 'ruleset'])) as { nftables: Array<Record<string, { table?: string }>> }
  const counts: Record<string, number> = {}
  for (const o of doc.nftables) {
    const table = o['table'] as { name?: string } | undefined
    if (table?.name) counts[table.name] ??= 0
    if (o['rule']?.table) counts[o['rule'].table] = (counts[o['rule'].table] ?? 0) + 1
  }
  return counts
}

t.test('masquerade: the outside sees the uplink address and an unprivileged source port', async (t) => {
  const { inet, g1, nft } = await topology(t)
  await serve(inet, 'tcp', 7000)
  await serve(inet, 'udp', 7001)
  t.notOk((await ask(g1, 'tcp', '203.0.113.2', 7000)).ok, 'without rules the internet cannot answer')
  await nft.apply(baseRules)
  const r = await ask(g1, 'tcp', '203.0.113.2', 7000, 'sourceport=500')
  t.equal(r.peer, '203.0.113.1', 'tcp source masqueraded')
  t.ok((r.peerPort ?? 0) >= 1024, `privileged source port 500 mapped to ${r.peerPort}`)
  const u = await ask(g1, 'udp', '203.0.113.2', 7001)
  t.equal(u.peer, '203.0.113.1', 'udp source masqueraded')
})

t.test('forward filter: new connections into the bridge and spoofed sources are rejected', async (t) => {
  const { host, inet, g1, nft } = await topology(t)
  await serve(g1, 'tcp', 80)
  await serve(inet, 'tcp', 7000)
  // Routes that would make both flows work without a firewall, so only the rules can stop them.
  await inet.ip('route add 192.168.100.0/24 via 203.0.113.1\nroute add 10.99.0.5/32 via 203.0.113.1')
  await host.ip('route add 10.99.0.5/32 via 192.168.100.10')
  await g1.ip('addr add 10.99.0.5/32 dev eth0')
  t.ok((await ask(inet, 'tcp', '192.168.100.10', 80)).ok, 'routed in before the rules exist')
  t.equal((await ask(g1, 'tcp', '203.0.113.2', 7000, 'bind=10.99.0.5')).peer, '10.99.0.5', 'spoofed source passes before the rules exist')
  await nft.apply(baseRules)
  const r = await ask(inet, 'tcp', '192.168.100.10', 80)
  t.notOk(r.ok, 'outside -> guest directly is refused')
  t.match(r.stderr, /refused|unreachable/i, 'rejected (ICMP), not silently dropped')
  const s = await ask(g1, 'tcp', '203.0.113.2', 7000, 'bind=10.99.0.5')
  t.notOk(s.ok, 'a source outside the subnet is not forwarded')
  t.match(s.stderr, /refused|unreachable/i, 'and gets a reject')
  t.equal((await ask(g1, 'tcp', '203.0.113.2', 7000)).peer, '203.0.113.1', 'the real source still works')
})

t.test('port forwards: from outside, from the host (own address and 127.0.0.1), hairpin, udp, shifted range', async (t) => {
  const { host, inet, g1, g2, nft } = await topology(t)
  const rules: NetworkRules = {
    ...baseRules,
    forwards: [
      { proto: 'tcp', hostPort: 8080, guest: '192.168.100.10', guestPort: 80 },
      { proto: 'udp', hostPort: 5353, guest: '192.168.100.10', guestPort: 53 },
      { proto: 'tcp', hostPort: [9000, 9002], guest: '192.168.100.10', guestPort: 9100 },
    ],
  }
  await serve(g1, 'tcp', 80)
  await serve(g1, 'udp', 53)
  for (const p of [9100, 9101, 9102]) await serve(g1, 'tcp', p)
  await nft.apply(rules)
  await setSysctls(host, rules)

  const outside = await ask(inet, 'tcp', '203.0.113.1', 8080)
  t.same([outside.peer, outside.serverPort], ['203.0.113.2', 80], 'outside -> uplink address:8080 reaches guest:80 with the real client address')
  const own = await ask(host, 'tcp', '203.0.113.1', 8080)
  t.same([own.ok, own.serverPort], [true, 80], 'host -> its own uplink address')
  const lo = await ask(host, 'tcp', '127.0.0.1', 8080)
  t.same([lo.peer, lo.serverPort], ['192.168.100.1', 80], 'host -> 127.0.0.1:8080, guest sees the bridge address')
  const hairpin = await ask(g2, 'tcp', '192.168.100.1', 8080)
  t.same([hairpin.peer, hairpin.serverPort], ['192.168.100.1', 80], 'hairpin guest2 -> bridge address:8080, guest sees the bridge address')
  const hairpinUplink = await ask(g2, 'tcp', '203.0.113.1', 8080)
  t.equal(hairpinUplink.serverPort, 80, 'hairpin through the uplink address too')
  const udp = await ask(inet, 'udp', '203.0.113.1', 5353)
  t.same([udp.peer, udp.serverPort], ['203.0.113.2', 53], 'udp forward')
  for (const p of [9000, 9001, 9002]) {
    t.equal((await ask(inet, 'tcp', '203.0.113.1', p)).serverPort, p + 100, `range port ${p} -> ${p + 100}`)
  }
  const listed = await nft.list()
  t.same(
    listed.map((l) => l.forwards),
    [
      [
        { proto: 'tcp', hostPort: 8080, guest: '192.168.100.10', guestPort: 80 },
        { proto: 'udp', hostPort: 5353, guest: '192.168.100.10', guestPort: 53 },
        { proto: 'tcp', hostPort: [9000, 9002], guest: '192.168.100.10', guestPort: 9100 },
      ],
    ],
    'list() reads the forwards back from the kernel',
  )
})

t.test('forwards limited to a host address or an input interface', async (t) => {
  const { host, inet, g1, nft } = await topology(t)
  const rules: NetworkRules = {
    ...baseRules,
    forwards: [
      { proto: 'tcp', hostPort: 8081, guest: '192.168.100.10', guestPort: 80, hostAddress: '203.0.113.1' },
      { proto: 'tcp', hostPort: 8082, guest: '192.168.100.10', guestPort: 80, inInterface: 'up0' },
    ],
  }
  await serve(g1, 'tcp', 80)
  await nft.apply(rules)
  await setSysctls(host, rules)
  t.same(requiredSysctls(rules), [], 'neither forward is reachable via 127.0.0.1, so no route_localnet')
  t.equal((await ask(inet, 'tcp', '203.0.113.1', 8081)).serverPort, 80, 'hostAddress forward works on that address')
  t.notOk((await ask(host, 'tcp', '127.0.0.1', 8081)).ok, 'but not on 127.0.0.1')
  t.notOk((await ask(g1, 'tcp', '192.168.100.1', 8081)).ok, 'nor on the bridge address')
  t.equal((await ask(inet, 'tcp', '203.0.113.1', 8082)).serverPort, 80, 'inInterface forward works from that interface')
  t.notOk((await ask(host, 'tcp', '203.0.113.1', 8082)).ok, 'but not from the host itself')
})

t.test('snat to a fixed address, and nat only out of the uplink', async (t) => {
  const { host, inet, g1, nft } = await topology(t)
  await host.ip('addr add 203.0.113.5/24 dev up0')
  await serve(inet, 'tcp', 7000)
  await nft.apply({ ...baseRules, nat: { snat: '203.0.113.5' } })
  const r = await ask(g1, 'tcp', '203.0.113.2', 7000, 'sourceport=600')
  t.equal(r.peer, '203.0.113.5', 'outside sees the SNAT address')
  t.ok((r.peerPort ?? 0) >= 1024, 'source port unprivileged')
  await nft.apply({ ...baseRules, nat: { uplink: 'up0' } })
  t.equal((await ask(g1, 'tcp', '203.0.113.2', 7000)).peer, '203.0.113.1', 'uplink up0: masqueraded out of it')
  await nft.apply({ ...baseRules, nat: { uplink: 'other0' } })
  t.notOk((await ask(g1, 'tcp', '203.0.113.2', 7000)).ok, 'uplink other0: nothing leaves through up0')
})

t.test('isolated: no way out, guest to guest works', async (t) => {
  const { inet, g1, g2, nft } = await topology(t)
  await serve(inet, 'tcp', 7000)
  await serve(g2, 'tcp', 80)
  await inet.ip('route add 192.168.100.0/24 via 203.0.113.1')
  t.ok((await ask(g1, 'tcp', '203.0.113.2', 7000)).ok, 'routed out before the rules exist')
  await nft.apply({ tag: 'kvciso', bridge: 'br0', mode: 'isolated', ipv4: baseRules.ipv4 })
  const out = await ask(g1, 'tcp', '203.0.113.2', 7000)
  t.notOk(out.ok, 'guest -> outside blocked')
  t.match(out.stderr, /refused|unreachable/i, 'with a reject')
  t.notOk((await ask(inet, 'tcp', '192.168.100.11', 80)).ok, 'outside -> guest blocked')
  t.equal((await ask(g1, 'tcp', '192.168.100.11', 80)).peer, '192.168.100.10', 'guest1 -> guest2 over the bridge')
})

t.test('IPv6: filter, NAT66 and an IPv6 forward', async (t) => {
  const { inet, g1, nft } = await topology(t, { ipv6: true })
  await serve(inet, 'tcp', 7000, '::')
  await serve(g1, 'tcp', 443, '::')
  const rules: NetworkRules = {
    ...baseRules,
    ipv6: { subnet: 'fd00:100::/64', hostAddress: 'fd00:100::1', nat66: true },
    forwards: [{ proto: 'tcp', hostPort: 8443, guest: 'fd00:100::10', guestPort: 443 }],
  }
  await nft.apply(rules)
  const r = await ask(g1, 'tcp', '2001:db8:1::2', 7000)
  t.equal(r.peer, '2001:db8:1::1', 'NAT66: the outside sees the uplink address')
  const f = await ask(inet, 'tcp', '2001:db8:1::1', 8443)
  t.same([f.peer, f.serverPort], ['2001:db8:1::2', 443], 'IPv6 forward')
  await nft.apply({ ...rules, ipv6: { ...rules.ipv6!, nat66: false } })
  t.notOk((await ask(g1, 'tcp', '2001:db8:1::2', 7000)).ok, 'without nat66 the outside cannot answer (no route back)')
})

t.test('re-apply, remove, removeAll: one copy of every rule, foreign tables untouched', async (t) => {
  const { host, nft } = await topology(t)
  await host.run('nft', ['-f', '-'], {
    input: 'table ip other {\n chain c1 { type filter hook forward priority 10; policy accept; counter comment "not ours"; }\n}\ntable inet kvmnet_notes-x { comment "not a tag kvmnet writes"; }\n',
  })
  const other = async (): Promise<string> => host.run('nft', ['-j', 'list', 'table', 'ip', 'other'])
  const otherBefore = await other()
  const rules: NetworkRules = { ...baseRules, forwards: [{ proto: 'tcp', hostPort: 8080, guest: '192.168.100.10' }] }
  const expected = renderRules(rules).nftables.filter((c) => 'add' in c && 'rule' in c.add).length

  await nft.apply(rules)
  const once = await ruleCounts(host)
  await nft.apply(rules)
  await nft.apply(rules)
  const thrice = await ruleCounts(host)
  t.equal(once['kvmnet_kvctest'], expected, `all ${expected} rules installed`)
  t.same(thrice, once, 'applying again leaves exactly one copy of every rule')
  await nft.apply({ ...rules, forwards: [] })
  t.equal((await nft.list())[0]?.forwards.length, 0, 'replacing drops the removed forward')

  await nft.apply({ ...baseRules, tag: 'kvcsecond', bridge: 'br1' })
  t.same((await nft.list()).map((l) => l.tag), ['kvcsecond', 'kvctest', 'notes-x'])
  await nft.remove('kvctest')
  await nft.remove('kvctest')
  t.pass('remove is idempotent')
  t.same(await nft.tags(), ['kvcsecond', 'notes-x'])
  t.same(await nft.removeAll(), ['kvcsecond', 'notes-x'], 'removeAll returns what it removed')
  t.same(await nft.list(), [], 'no kvmnet table left')
  t.equal(await other(), otherBefore, 'table ip other untouched throughout')
  t.same(await nft.removeAll(), [], 'removeAll on a clean namespace')
})

t.test('every golden document is accepted by the real nft', async (t) => {
  const host = await makeNs(t, 'kvc')
  const { readdirSync } = await import('node:fs')
  const dir = new URL('../unit/fixtures/nft/', import.meta.url)
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'))
  t.ok(files.length >= 15, `${files.length} fixtures`)
  for (const f of files) {
    // A first install's document creates its tables (`create`, not `add`): it is for a namespace without
    // them, as kvmnet sends it only then; the documents before it here made them.
    if (f.startsWith('first-')) await host.run('nft', ['flush', 'ruleset'])
    // An edit's appends go on top of the tables the rules before it made (only then does kvmnet send them).
    const before = f.startsWith('adds-') ? appends[f.replace(/\.json$/, '')] : undefined
    if (f.startsWith('adds-')) t.ok(before, `${f}: its rules before are in test/helpers/nft-adds-cases.ts`)
    if (before) {
      await host.run('nft', ['flush', 'ruleset'])
      await host.run('nft', ['-j', JSON.stringify(renderRules(before[0]))])
    }
    const r = await host.try('nft', ['-j', '-f', new URL(f, dir).pathname])
    t.equal(r.exitCode, 0, `${f} ${r.stderr}`)
  }
})

t.test('failures are typed: NftError carries the exit code and stderr verbatim', async (t) => {
  const { NftError, SystemError, isNotFound } = await import('../../src/errors.js')
  const where = { path: '/run/netns/kvc-does-not-exist', name: 'kvc-does-not-exist' }
  // In process, a namespace that is not there is found before nft runs: the open of its file fails.
  const inProcess = await new Nft(where).apply(baseRules).catch((e: unknown) => e)
  t.type(inProcess, SystemError)
  t.ok(isNotFound(inProcess), 'ENOENT: the namespace is gone')
  // The nft program: nsenter fails, and its message is nft's step's stderr.
  const gone = new Nft(where, { backend: 'process' })
  const err = (await gone.apply(baseRules).catch((e: unknown) => e)) as InstanceType<typeof NftError>
  t.type(err, NftError)
  t.equal(err.exitCode, 1)
  t.match(err.stderr, /kvc-does-not-exist/, 'stderr kept')
  const missing = new Nft(undefined, { nftPath: '/nonexistent/nft' })
  const e2 = (await missing.list().catch((e: unknown) => e)) as InstanceType<typeof NftError>
  t.type(e2, NftError)
  t.equal(e2.exitCode, undefined, 'never ran: no exit code')
  t.ok(e2.cause, 'cause attached')
})

t.test('a document too big for an argument (a large shifted port map) goes through a private file', async (t) => {
  const host = await makeNs(t, 'kvc')
  const { readdirSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  // In process a document of any size is one buffer; the nft program gets it through a file.
  const big: NetworkRules = { ...baseRules, forwards: [{ proto: 'udp', hostPort: [20000, 39999], guest: '192.168.100.10', guestPort: 40000 }] }
  const inProcess = new Nft({ path: host.path, name: host.name })
  await inProcess.apply(big)
  t.same((await inProcess.list())[0]?.forwards, big.forwards, 'in process')
  await inProcess.remove(big.tag)
  const nft = new Nft({ path: host.path, name: host.name }, { backend: 'process' })
  const rules: NetworkRules = { ...baseRules, forwards: [{ proto: 'udp', hostPort: [20000, 39999], guest: '192.168.100.10', guestPort: 40000 }] }
  t.ok(JSON.stringify(renderRules(rules)).length > 131072, 'document larger than MAX_ARG_STRLEN')
  await nft.apply(rules)
  t.same((await nft.list())[0]?.forwards, [{ proto: 'udp', hostPort: [20000, 39999], guest: '192.168.100.10', guestPort: 40000 }])
  t.same(readdirSync(tmpdir()).filter((f) => f.startsWith(`kvmnet-nft-${process.pid}-`)), [], 'temporary file removed')
})
