/**
 * The watcher's decoders and loss rules, on notifications captured from a real kernel
 * (test/unit/fixtures/watch-capture.mts made them with nft and iproute2 in a throwaway namespace): a
 * table replaced the way kvmnet applies is no loss, a flush is; a foreign table or link is nobody's
 * business; a bridge deleted takes its address and lets go of its port.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { LossClassifier, confirmedRepairs, decodeNftNotification, encodeGetGen, decodeRtnlNotification, type Loss, type WatchTargets } from '../../src/watch/index.js'
import { planFor } from '../../src/network/kinds/index.js'
import { watchTargets } from '../../src/network/kinds/watch-targets.js'
import { validateSpec } from '../../src/network/validate.js'
import type { StepTiming } from '../../src/util/transaction.js'
import type { LinkInfo } from '../../src/rtnl/link-types.js'
import type { RtnlNotification } from '../../src/watch/rtnl-notification.js'

const messages = (file: string): { type: number; payload: Buffer }[] =>
  readFileSync(new URL(`./fixtures/${file}`, import.meta.url), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [type, hex] = line.split(' ')
      return { type: Number(type), payload: Buffer.from(hex ?? '', 'hex') }
    })

const targets: WatchTargets = {
  tables: [
    { family: 1, name: 'kvmnet_cap' },
    { family: 7, name: 'kvmnet_cap' },
  ],
  bridge: 'br-cap',
  ports: new Map([['p-cap', { enslaved: true }]]),
  portAlias: 'kvmnet:cap:port',
  links: new Set(),
  addresses: new Map([['br-cap', new Set(['10.9.0.1/24', 'fd00:9::1/64'])]]),
  shaped: new Set(['p-cap', 'ifb-cap']),
}

function feed(c: LossClassifier, file: string): Loss[] {
  const out: Loss[] = []
  for (const m of messages(file)) {
    const nft = decodeNftNotification(m.type, m.payload)
    if (nft) out.push(...c.onNft(nft))
    const rt = m.type >> 8 === 0 ? decodeRtnlNotification(m.type, m.payload) : undefined
    if (rt) out.push(...c.onRtnl(rt))
  }
  return out
}

t.test('nf_tables notifications decode to objects and generations', async (t) => {
  const decoded = messages('watch-nft-replace.hex').map((m) => decodeNftNotification(m.type, m.payload))
  t.match(decoded[0], { kind: 'object', op: 'new', object: 'table', family: 1, table: 'kvmnet_cap' })
  t.match(decoded[1], { kind: 'object', op: 'del', object: 'table', table: 'kvmnet_cap' })
  t.ok(decoded.some((d) => d?.kind === 'object' && d.object === 'rule' && d.op === 'new'), 'rules')
  const gen = decoded.find((d) => d?.kind === 'gen')
  t.match(gen, { kind: 'gen', proc: 'nft' })
  t.ok(gen?.kind === 'gen' && (gen.pid ?? 0) > 0 && gen.gen !== undefined, 'generation and pid')
  t.equal(decodeNftNotification(0x0b00, Buffer.alloc(8)), undefined, 'another subsystem')
  t.equal(decodeNftNotification(0x0a00, Buffer.alloc(2)), undefined, 'too short')
})

t.test('NFT_MSG_GETGEN, the barrier request on the nf_tables socket', async (t) => {
  // len 20 | type 0x0a10 (subsys 10, msg 16) | flags REQUEST|ACK | seq 0 | pid 0 | nfgenmsg AF_UNSPEC v0 res 0
  t.equal(encodeGetGen().toString('hex'), '14000000' + '100a' + '0500' + '00000000' + '00000000' + '00000000')
})

t.test('a table replaced in one transaction is not a loss; a foreign table never is', async (t) => {
  const c = new LossClassifier(() => targets)
  t.same(feed(c, 'watch-nft-replace.hex'), [], 'two kvmnet-style replaces')
  t.same(feed(c, 'watch-nft-foreign.hex'), [], 'inet foreign added, given a chain, deleted')
})

t.test('a flushed table and a flushed ruleset are losses of the network table only', async (t) => {
  const c = new LossClassifier(() => targets)
  t.same(feed(c, 'watch-nft-flush-table.hex'), [{ kind: 'nft', what: 'nft table kvmnet_cap' }])
  // The ruleset also held `ip kvmnet_cap`: same name, other family, not the network's.
  t.same(feed(c, 'watch-nft-flush-ruleset.hex'), [{ kind: 'nft', what: 'nft table kvmnet_cap' }])
})

t.test('links and addresses', async (t) => {
  const c = new LossClassifier(() => targets)
  feed(c, 'watch-rtnl-setup.hex')
  t.same(feed(c, 'watch-rtnl-other.hex'), [], 'another link and its address deleted')
  t.same(feed(c, 'watch-rtnl-addr-del.hex'), [{ kind: 'address', what: 'address fd00:9::1/64 on br-cap' }], 'only a planned address counts (10.9.0.2 is not)')
  t.same(feed(c, 'watch-rtnl-nomaster.hex'), [{ kind: 'port', what: 'port p-cap' }], 'a port let go of by the bridge')
  const del = feed(c, 'watch-rtnl-bridge-del.hex')
  t.same([...new Set(del.map((l) => l.what))].sort(), ['address 10.9.0.1/24 on br-cap', 'bridge br-cap', 'port p-cap'])
})

t.test('AF_BRIDGE port messages are left out', async (t) => {
  const dels = messages('watch-rtnl-nomaster.hex').filter((m) => m.type === 17)
  t.ok(dels.length > 0, 'the kernel sends an AF_BRIDGE RTM_DELLINK for a port leaving')
  for (const m of dels) t.equal(decodeRtnlNotification(m.type, m.payload), undefined)
})

t.test('a port being made (no alias yet) is not lost', async (t) => {
  const c = new LossClassifier(() => ({ ...targets, portAlias: 'kvmnet:cap:other-alias' }))
  feed(c, 'watch-rtnl-setup.hex')
  t.same(feed(c, 'watch-rtnl-nomaster.hex'), [])
})

t.test('targets from a plan', async (t) => {
  const plan = planFor(validateSpec({ name: 'wt', mode: 'nat', ipv4: { address: '10.9.0.1/24' }, ipv6: { address: 'fd00:9::1/64' }, ports: [{ name: 'wt-p0' }] }), '/run/kvmnet')
  const w = watchTargets(plan)
  t.same(w.tables, [{ family: 1, name: 'kvmnet_wt' }, { family: 7, name: 'kvmnet-addr_wt' }], 'no filtered port: no port-filter table, the address-learning one')
  const filtered = watchTargets(planFor(validateSpec({ name: 'wt', mode: 'nat', filtering: true, ipv4: { address: '10.9.0.1/24' }, ports: [{ name: 'wt-p0' }] }), '/run/kvmnet'))
  t.same(filtered.tables, [
    { family: 1, name: 'kvmnet_wt' },
    { family: 7, name: 'kvmnet_wt' },
    { family: 7, name: 'kvmnet-addr_wt' },
  ], 'filtered ports: the bridge-family table of port filters too')
  t.equal(w.bridge, 'kvbr-wt')
  t.same([...w.ports], [['wt-p0', { enslaved: true }]])
  t.same([...(w.addresses.get('kvbr-wt') ?? [])], ['10.9.0.1/24', 'fd00:9::1/64'])
  const bare = watchTargets(planFor(validateSpec({ name: 'wo', mode: 'very-isolated' }), '/run/kvmnet'))
  t.same(bare.tables, [{ family: 7, name: 'kvmnet-addr_wo' }], 'a kind without rules: its address-learning table only')
  const open = watchTargets(planFor(validateSpec({ name: 'wp', mode: 'open', ipv4: { address: '10.9.1.1/24' } }), '/run/kvmnet'))
  t.same(open.tables, [], 'open: no table at all')
  const mv = watchTargets(planFor(validateSpec({ name: 'wm', mode: 'macvtap', interface: 'eth0', ports: [{ name: 'wm-p0' }] }), '/run/kvmnet'))
  t.same(mv.tables, [{ family: 5, name: 'kvmnet-addr_wm' }], 'macvtap: the netdev-family learning table')
})

t.test('only what the converge changed is reported as repaired', async (t) => {
  const step = (step: StepTiming['step'], category: StepTiming['category'], outcome: StepTiming['outcome'], detail?: string): StepTiming => ({ step, ...(detail ? { detail } : {}), category, outcome, ms: 1 })
  const losses: Loss[] = [
    { kind: 'nft', what: 'nft table kvmnet_x' },
    { kind: 'bridge', what: 'bridge kvbr-x' },
    { kind: 'port', what: 'port p0' },
    { kind: 'address', what: 'address 10.0.0.1/24 on kvbr-x' },
    { kind: 'dnsmasq', what: 'dnsmasq' },
  ]
  const quiet = [step('journal', 'state', 'done'), step('addresses', 'addresses', 'unchanged'), step('nft', 'nft', 'unchanged'), step('state', 'state', 'done')]
  t.same(confirmedRepairs(losses, quiet, false), [], 'a converge that changed nothing repaired nothing')
  const busy = [step('bridge', 'links', 'created'), step('addresses', 'addresses', 'updated'), step('reattach-ports', 'links', 'done', '1'), step('nft', 'nft', 'repaired')]
  t.same(
    confirmedRepairs(losses, busy, true).map((l) => l.what),
    losses.map((l) => l.what),
  )
})

t.test('a finished port set down is a loss; later messages of the same change tell what is whole again', async (t) => {
  const c = new LossClassifier(() => targets)
  const info = (over: Partial<LinkInfo>): LinkInfo => ({
    index: 7,
    name: 'p-cap',
    kind: 'tun',
    mtu: 1500,
    mac: undefined,
    flags: 0,
    up: true,
    operState: 'up',
    master: 3,
    group: 0,
    alias: 'kvmnet:cap:port',
    parent: undefined,
    linkNetnsid: undefined,
    slaveKind: undefined,
    ...over,
  })
  const link = (over: Partial<LinkInfo>): RtnlNotification => ({ kind: 'link', op: 'new', link: info(over) })
  c.learnLink(3, 'br-cap')
  t.same(c.onRtnl(link({ up: false })), [{ kind: 'port', what: 'port p-cap' }], 'set down: lost')
  t.same(c.onRtnl(link({ up: false, alias: undefined })), [], 'a port still being made (no alias) is not')
  const up = link({})
  t.same(c.onRtnl(up), [], 'up on its bridge: no loss')
  t.same(c.restoredBy(up), ['port p-cap'], 'and whole again')
  const bridgeUp = link({ index: 3, name: 'br-cap', kind: 'bridge', master: undefined, alias: undefined })
  c.onRtnl(bridgeUp)
  t.same(c.restoredBy(bridgeUp), ['bridge br-cap'], 'the bridge up again')
  const addr: RtnlNotification = { kind: 'address', op: 'new', address: { index: 3, family: 4, address: '10.9.0.1', prefixLength: 24, cidr: '10.9.0.1/24', scope: 0, flags: 0 } }
  t.same(c.restoredBy(addr), ['address 10.9.0.1/24 on br-cap'], 'a planned address back')
  const elsewhere = link({ index: 9, name: 'other', master: undefined, alias: undefined })
  c.onRtnl(elsewhere)
  t.same(c.restoredBy(elsewhere), [], 'another link says nothing')
})

t.test('a qdisc, class or filter deleted on a shaped device, or its IFB deleted, is a bandwidth loss', async (t) => {
  const tcmsg = (ifindex: number): Buffer => {
    const b = Buffer.alloc(20)
    b.writeInt32LE(ifindex, 4)
    return b
  }
  t.same(decodeRtnlNotification(37, tcmsg(7)), { kind: 'tc', op: 'del', object: 'qdisc', index: 7, sender: 0 }, 'RTM_DELQDISC')
  t.same(decodeRtnlNotification(41, tcmsg(7)), { kind: 'tc', op: 'del', object: 'class', index: 7, sender: 0 }, 'RTM_DELTCLASS')
  t.same(decodeRtnlNotification(45, tcmsg(7)), { kind: 'tc', op: 'del', object: 'filter', index: 7, sender: 0 }, 'RTM_DELTFILTER')
  t.same(decodeRtnlNotification(40, tcmsg(7), 1234), { kind: 'tc', op: 'new', object: 'class', index: 7, sender: 1234 }, 'RTM_NEWTCLASS, with the port id of the socket that asked')
  const c = new LossClassifier(() => targets)
  c.learnLink(7, 'p-cap')
  c.learnLink(8, 'someone-else')
  const tc = (op: 'new' | 'del', index: number, sender = 0) => ({ kind: 'tc' as const, op, object: 'class' as const, index, sender })
  t.same(c.onRtnl(tc('del', 7)), [{ kind: 'bandwidth', what: 'bandwidth on p-cap' }])
  t.same(c.onRtnl(tc('del', 8)), [], "another link's qdisc")
  // The netlink package binds this process's sockets to (counter << 22) | pid; another program's socket
  // (`tc`, iproute2) has its own pid in those bits.
  const own = ((5 << 22) | (process.pid & 0x3fffff)) >>> 0
  const other = ((1 << 22) | ((process.pid + 1) & 0x3fffff)) >>> 0
  t.same(c.onRtnl(tc('new', 7, other)), [{ kind: 'bandwidth', what: 'bandwidth on p-cap' }], 'a class changed in place by another program: a loss to check')
  t.same(c.onRtnl(tc('new', 7, own)), [], "kvmnet's own new class: what it planned")
  t.same(c.onRtnl(tc('new', 7, ((600 << 22) | (process.pid & 0x3fffff)) >>> 0)), [], 'own, from a socket numbered past bit 31 too')
  t.same(c.onRtnl(tc('new', 8, other)), [], "another link's new class")
  t.same(c.restoredBy(tc('new', 7, other)), [], 'a tc message shows nothing whole again')
  const ifb = { index: 9, name: 'ifb-cap', up: true } as LinkInfo
  t.same(c.onRtnl({ kind: 'link', op: 'del', link: ifb }), [{ kind: 'bandwidth', what: 'bandwidth on ifb-cap' }], 'the IFB deleted')
  const plan = planFor(
    validateSpec({
      name: 'wb',
      mode: 'nat',
      ipv4: { address: '10.9.0.1/24' },
      bandwidth: { inbound: { average: 100 } },
      ports: [{ name: 'wb-p0', bandwidth: { outbound: { average: 10 } } }, { name: 'wb-p1' }],
    }),
    '/run/kvmnet',
  )
  const shaped = [...watchTargets(plan).shaped].sort()
  t.equal(shaped.length, 3, `the shaped tap, its IFB and the capped bridge (${shaped.join(', ')})`)
  t.ok(shaped.includes('wb-p0') && shaped.includes('kvbr-wb') && !shaped.includes('wb-p1'))
  const step: StepTiming = { step: 'bandwidth', category: 'links', outcome: 'done', ms: 1 }
  t.same(confirmedRepairs([{ kind: 'bandwidth', what: 'bandwidth on p-cap' }], [step], false).length, 1, "the bandwidth step's changes repair it")
})
