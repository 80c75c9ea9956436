/**
 * The learning table as one JSON transaction (learn.ts renderLearning): nft 1.0.6's JSON cannot say
 * `flags dynamic`, and nft sets it itself on a set created beside a rule that updates it — checked here on
 * the real kernel, through libnftables and through the nft program: the sets list as dynamic, the rules are
 * there, a replace over a table of the other family deletes it in the same transaction, and a refused
 * document leaves nothing behind (no sets without their rules).
 */
import t from 'tap'
import { Nft, learnTableName, renderLearning } from '../../src/nft/index.js'
import { nftApply } from '../../src/nft/run.js'
import { NftError } from '../../src/errors.js'
import { makeNs } from '../helpers/ns.js'

for (const backend of ['libnftables', 'process'] as const) {
  t.test(`${backend}: sets dynamic, rules there, the other family's table replaced in one go`, async (t) => {
    const ns = await makeNs(t, 'k11u')
    const ref = { path: ns.path, name: ns.name }
    const nft = new Nft(ref, { backend })
    const table = learnTableName('k11l')
    await nft.applyLearning({ tag: 'k11l', family: 'bridge', ports: ['k11l-p0'], timeout: 60 }, { probablyAbsent: true })
    const listed = (await ns.run('nft', ['list', 'table', 'bridge', table]))
    t.equal(listed.match(/flags dynamic,timeout/g)?.length, 2, 'v4 and v6 are dynamic sets with timeouts')
    t.match(listed, /update @v4 \{ iifname \. ether saddr \. arp saddr ip \}/)
    t.match(listed, /update @v6 \{ iifname \. ether saddr \. ip6 saddr \}/)
    t.match(listed, /elements = \{ "k11l-p0" \}/)
    // A converge to macvtap: the netdev table made, the bridge one deleted, one transaction.
    await ns.run('ip', ['link', 'add', 'k11l-d0', 'type', 'veth', 'peer', 'name', 'k11l-d1'])
    await nft.applyLearning({ tag: 'k11l', family: 'netdev', devices: ['k11l-d0'], timeout: 30 })
    const tables = (await ns.run('nft', ['list', 'tables']))
    t.match(tables, `table netdev ${table}`)
    t.notMatch(tables, `table bridge ${table}`, "the other family's table is gone")
    t.equal((await ns.run('nft', ['list', 'table', 'netdev', table])).match(/flags dynamic,timeout/g)?.length, 2)
  })
}

t.test('a refused learning document changes nothing', async (t) => {
  const ns = await makeNs(t, 'k11u')
  const ref = { path: ns.path, name: ns.name }
  // The sets, chain and rules, then an element for a set that does not exist: the whole document refused.
  const doc = renderLearning({ tag: 'k11r', family: 'bridge', ports: ['k11r-p0'], timeout: 30 }, true)
  doc.nftables.push({ add: { element: { family: 'bridge', table: learnTableName('k11r'), name: 'nosuch', elem: ['x'] } } })
  const err = await nftApply(ref, doc).catch((e: unknown) => e)
  t.ok(err instanceof NftError, 'NftError')
  t.notMatch((await ns.run('nft', ['list', 'tables'])), learnTableName('k11r'), 'no table, no sets left behind')
})
