// Large dump datagrams on a netlink socket another library reads. The kernel fills each datagram of a
// dump up to the largest recvmsg() length the socket has seen (capped near 32 KiB, NLMSG_GOODSIZE at
// least). The npm `netlink` package peeks every datagram's size and reads exactly that, so the kernel
// never sees a larger read and keeps to ~4 KiB pages: a dump of 1000 links (1.5 KiB each) came in ~500
// datagrams, each a wakeup, two syscalls and a JS callback. One 32 KiB read of an ack to a NLMSG_NOOP,
// sent for the purpose and consumed here, raises that length for the socket's life: ~50 datagrams.
#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace kvmnet {

namespace {

constexpr size_t kDumpDatagramBytes = 32768;

}  // namespace

Napi::Value NetlinkWidenDumps(const Napi::CallbackInfo& info) {
  int32_t fd = IntArg(info, 0, "fd");
  Guard(info.Env(), [&] {
    nlmsghdr req{};
    req.nlmsg_len = sizeof req;
    req.nlmsg_type = NLMSG_NOOP;
    req.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t sent;
    do {
      sent = ::sendto(fd, &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
      int err = errno;
      throw SysFailure{err, "sendto", "", "netlink NLMSG_NOOP on fd " + std::to_string(fd)};
    }
    // The kernel acks within sendto; the read's length is what it records, whatever it holds.
    std::vector<char> buf(kDumpDatagramBytes);
    ssize_t got;
    do {
      got = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    } while (got < 0 && errno == EINTR);
    if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      int err = errno;
      throw SysFailure{err, "recv", "", "netlink ack of NLMSG_NOOP on fd " + std::to_string(fd)};
    }
  });
  return info.Env().Undefined();
}

}  // namespace kvmnet
