/**
 * The chains kvmnet reads over netlink (to find other firewalls) are exactly what `nft -j list chains`
 * prints, for every family: iptables-nft's tables, inet/bridge/arp/netdev base chains, regular chains.
 */
import t from 'tap'
import { listNftChains } from '../../src/nft/list-chains.js'
import { Netns } from '../../src/index.js'
import { makeNs } from '../helpers/ns.js'

t.test('listNftChains matches nft -j list chains', async (t) => {
  const ns = await makeNs(t, 'kvlc')
  await ns.run('nft', ['-f', '-'], {
    input: `table inet ftest {
  chain myfwd { type filter hook forward priority 0; policy drop; }
  chain myin { type filter hook input priority 0; policy accept; }
  chain plain { }
}
table bridge bt {
  chain pre { type filter hook prerouting priority 0; policy drop; }
}
table arp at {
  chain o { type filter hook output priority 0; policy accept; }
}
table netdev nd {
}
`,
  })
  await ns.run('iptables', ['-P', 'FORWARD', 'DROP'])
  await ns.run('iptables', ['-N', 'DOCKER-USER'])
  await ns.run('ip6tables', ['-N', 'X'])
  const ours = await listNftChains(Netns.open(ns.name))
  const theirs = (JSON.parse(await ns.run('nft', ['-j', 'list', 'chains'])) as { nftables: { chain?: Record<string, unknown> }[] }).nftables.flatMap((x) =>
    x.chain ? [{ family: x.chain.family, table: x.chain.table, name: x.chain.name, ...(x.chain.hook ? { hook: x.chain.hook, policy: x.chain.policy } : {}) }] : [],
  )
  const key = (c: unknown) => JSON.stringify(c)
  t.same(ours.map(key).sort(), theirs.map(key).sort())
  t.ok(ours.length >= 7, `${ours.length} chains`)
})

t.test('without libnftables the netlink dump gives the same chains as the in-process listing', async (t) => {
  const ns = await makeNs(t, 'kvu-lc')
  await ns.run('nft', ['-f', '-'], { input: 'table inet ftest {\n  chain myfwd { type filter hook forward priority 0; policy drop; }\n  chain plain { }\n}\ntable netdev nd {\n}\n' })
  await ns.run('iptables', ['-N', 'DOCKER-USER'])
  const inProcess = await listNftChains(Netns.open(ns.name))
  const was = process.env.KVMNET_LIBNFTABLES
  process.env.KVMNET_LIBNFTABLES = '/nonexistent/libnftables.so.1'
  t.teardown(() => {
    if (was === undefined) delete process.env.KVMNET_LIBNFTABLES
    else process.env.KVMNET_LIBNFTABLES = was
  })
  const overNetlink = await listNftChains(Netns.open(ns.name))
  const key = (c: unknown) => JSON.stringify(c)
  t.same(overNetlink.map(key).sort(), inProcess.map(key).sort())
  t.ok(inProcess.some((c) => c.name === 'DOCKER-USER' && c.table === 'filter' && c.family === 'ip'), 'iptables-nft\'s chain is among them')
})
