/** Pure parts of the supervisor: /proc socket tables, restart backoff. */
import t from 'tap'
import { parseSocketTable, missingSockets, expectedSockets } from '../../src/dnsmasq/sockets.js'
import { restartDelay } from '../../src/dnsmasq/index.js'

t.test('parseSocketTable', async (t) => {
  const udp = [
    '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
    '  123: 0164A8C0:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4711 2 0000000000000000 0',
    '  124: 00000000:0043 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4712 2 0000000000000000 0',
  ].join('\n')
  t.same([...parseSocketTable(udp, 'udp')], [
    ['4711', { proto: 'udp', address: '192.168.100.1', port: 53 }],
    ['4712', { proto: 'udp', address: '0.0.0.0', port: 67 }],
  ])
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0164A8C0:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5000 1 0',
    '   1: 0164A8C0:0035 0264A8C0:D431 01 00000000:00000000 00:00000000 00000000     0        0 5001 1 0',
  ].join('\n')
  t.same([...parseSocketTable(tcp, 'tcp').keys()], ['5000'], 'only listening TCP sockets')
})

t.test('readiness set', async (t) => {
  const want = expectedSockets({ hostAddress: '192.168.100.1', dhcp: true, dns: true })
  t.equal(want.length, 3)
  t.same(missingSockets([{ proto: 'udp', address: '0.0.0.0', port: 67 }], want).map((s) => `${s.proto}:${s.port}`), ['udp:53', 'tcp:53'])
  t.same(expectedSockets({ hostAddress: '192.168.100.1', dhcp: true, dns: false }), [{ proto: 'udp', address: '0.0.0.0', port: 67 }])
})

t.test('restartDelay', async (t) => {
  t.same([0, 1, 2, 3, 4, 5, 10].map((a) => restartDelay(a)), [0, 250, 500, 1000, 2000, 4000, 5000])
})
