/** Finding a DHCP client's interface in its command line, and restarting it on another one. */
import t from 'tap'
import { argvForInterface, argvNamesInterface } from '../../src/network/nic-manager.js'

t.test('every way a client names its interface', async (t) => {
  t.ok(argvNamesInterface(['busybox', 'udhcpc', '-i', 'eth0', '-f'], 'eth0'))
  t.ok(argvNamesInterface(['udhcpc', '-ieth0'], 'eth0'))
  t.ok(argvNamesInterface(['udhcpc', '--interface=eth0'], 'eth0'))
  t.ok(argvNamesInterface(['/sbin/dhclient', '-4', '-v', '-pf', '/run/dhclient.eth0.pid', 'eth0'], 'eth0'))
  t.ok(argvNamesInterface(['dhcpcd', '-q', 'eth0'], 'eth0'))
  t.notOk(argvNamesInterface(['udhcpc', '-i', 'eth1'], 'eth0'))
  t.notOk(argvNamesInterface(['eth0'], 'eth0'), 'argv[0] is the program, not an interface')
  t.notOk(argvNamesInterface(['dhclient', '-pf', '/run/dhclient.eth0.pid', 'eth1'], 'eth0'), 'a path that mentions the NIC is not the NIC')
})

t.test('the same command line on the bridge', async (t) => {
  t.same(argvForInterface(['busybox', 'udhcpc', '-i', 'eth0', '-f', '-s', '/etc/udhcpc.sh'], 'eth0', 'kvbr-lan'), ['busybox', 'udhcpc', '-i', 'kvbr-lan', '-f', '-s', '/etc/udhcpc.sh'])
  t.same(argvForInterface(['udhcpc', '-ieth0', '--interface=eth0'], 'eth0', 'br0'), ['udhcpc', '-ibr0', '--interface=br0'])
  t.same(argvForInterface(['dhclient', '-pf', '/run/dhclient.eth0.pid', 'eth0'], 'eth0', 'br0'), ['dhclient', '-pf', '/run/dhclient.eth0.pid', 'br0'])
})
