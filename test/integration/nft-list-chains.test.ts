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
