/**
 * What the rtnl layer relies on: a netlink socket opened inside runSync belongs to that namespace, and
 * its fd can be found from the port id to set NETLINK_EXT_ACK / NETLINK_GET_STRICT_CHK.
 */
import t from 'tap'
import { createRtNetlink } from 'netlink'
import { native } from '../../src/native/index.js'
import { Netns } from '../../src/netns/netns.js'
import { makeNs } from '../helpers/ns.js'

t.test('a netlink socket made in runSync talks to that namespace; its fd is found by port id', async (t) => {
  const fixture = await makeNs(t, 'kva')
  await fixture.ip('link add kvanl0 type veth peer name kvanl1')
  const ns = Netns.open(fixture.name)
  const c = native.constants

  const rt = ns.runSync(() => createRtNetlink())
  let open = true
  t.teardown(() => {
    if (open) rt.socket.close()
  })
  const port = rt.socket.address().port
  const fd = native.findNetlinkFd(port, c.NETLINK_ROUTE)
  t.ok(fd >= 0, `found fd ${fd} for port ${port}`)
  t.equal(native.findNetlinkFd(port, c.NETLINK_NETFILTER), -1, 'the protocol must match too')
  t.equal(native.findNetlinkFd(port ^ 1, c.NETLINK_ROUTE), -1, 'the port must match')

  native.setsockoptInt(fd, c.SOL_NETLINK, c.NETLINK_EXT_ACK, 1)
  native.setsockoptInt(fd, c.SOL_NETLINK, c.NETLINK_GET_STRICT_CHK, 1)
  t.pass('extended acks and strict checking enabled on the found fd')

  const names = (await rt.getLinks()).map((l) => l.attrs.ifname).sort()
  t.same(names, ['kvanl0', 'kvanl1', 'lo'], 'the socket sees the namespace’s links, not the host’s')

  rt.socket.close()
  open = false
  t.equal(native.findNetlinkFd(port, c.NETLINK_ROUTE), -1, 'gone once closed')
})
