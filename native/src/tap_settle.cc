// Settling taps whose queue fds were just closed. Closing a tap's last queue drops its carrier, but the
// kernel applies a carrier change to the device's operational state only when its link-watch work runs,
// batched, up to a second later. Until then a new tap still reads as operationally up (IF_OPER_UNKNOWN),
// so a bridge enables it as a port — and enabling a port re-runs the bridge's port-state selection over
// every port (each forwarding port's multicast query timers re-armed): raising a bridge with 1000 such
// ports cost ~80 ms here, and link-watch disabling them all again later (each with an RCU grace period
// and another selection) ran after the apply had returned. RTM_GETLINK applies a device's pending
// link-watch event at once (linkwatch_sync_dev in rtnl_getlink); on a device that is down that is only
// the operational state, no qdisc work. `ip link set NAME …` does this for every link by accident (it
// looks the name up with RTM_GETLINK first). The replies are read and dropped here: in JS each one was
// a datagram, a callback and a decode (~30 ms for 1000 taps, against ~4 ms of kernel work).
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "exports.h"
#include "scoped_netns.h"
#include "unique_fd.h"

namespace kvmnet {

namespace {

// Requests per datagram: their replies (a link each, ~1.5 KB, more with its skb's overhead) must all fit
// the receive buffer, since the kernel answers a whole datagram inside sendmsg, before anything is read.
constexpr size_t kPerDatagram = 128;
constexpr int kRecvBuffer = 2 << 20;

UniqueFd OpenRtnl(const std::string& nsPath) {
  // A netlink socket talks to the namespace it was made in, for its whole life.
  ScopedNetns inside(nsPath);
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd.valid()) ThrowErrno("socket", nullptr, "socket(NETLINK_ROUTE)");
  int size = kRecvBuffer;
  // SO_RCVBUFFORCE needs CAP_NET_ADMIN (which making taps needs too); the capped size otherwise.
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0 &&
      ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0)
    ThrowErrno("setsockopt", nullptr, "setsockopt(SO_RCVBUF)");
  return fd;
}

void Append(std::vector<char>& out, uint32_t seq, const std::string& name) {
  struct Request {
    nlmsghdr h;
    ifinfomsg ifi;
    rtattr extMaskAttr;
    uint32_t extMask;
    rtattr nameAttr;
    char name[IFNAMSIZ];
  } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_GETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST;
  req.h.nlmsg_seq = seq;
  req.ifi.ifi_family = AF_UNSPEC;
  req.extMaskAttr.rta_type = IFLA_EXT_MASK;
  req.extMaskAttr.rta_len = RTA_LENGTH(sizeof req.extMask);
  req.extMask = RTEXT_FILTER_SKIP_STATS;  // a smaller reply: the state is what is wanted, not the counters
  req.nameAttr.rta_type = IFLA_IFNAME;
  req.nameAttr.rta_len = RTA_LENGTH(IFNAMSIZ);
  memcpy(req.name, name.data(), name.size() < IFNAMSIZ - 1 ? name.size() : IFNAMSIZ - 1);
  static_assert(sizeof(Request) % 4 == 0, "netlink messages are 4-byte aligned");
  const char* p = reinterpret_cast<const char*>(&req);
  out.insert(out.end(), p, p + sizeof req);
}

// Reads the answers to requests first..last (seq numbers), all already queued by the kernel.
void Drain(int fd, uint32_t first, uint32_t last, const std::vector<std::string>& names) {
  static thread_local std::vector<char> buf(64 << 10);
  size_t left = last - first + 1;
  while (left > 0) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      // EAGAIN: answers missing that the kernel had to have queued; ENOBUFS: it dropped some.
      ThrowErrno("recvmsg", nullptr, "recvmsg(RTM_GETLINK replies)");
    }
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq < first || h->nlmsg_seq > last) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
        if (e->error != 0) throw SysFailure{-e->error, "sendmsg", names[h->nlmsg_seq - 1], "RTM_GETLINK"};
      }
      --left;
    }
  }
}

}  // namespace

Napi::Value TapSettle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string nsPath = OptionalPathArg(info, 0, "nsPath");
  if (info.Length() < 2 || !info[1].IsArray()) throw Napi::TypeError::New(env, "names must be an array");
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<std::string> names;
  names.reserve(list.Length());
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value v = list.Get(i);
    std::string name = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
    if (name.empty() || name.size() >= IFNAMSIZ) throw Napi::TypeError::New(env, "names[" + std::to_string(i) + "] must be 1 to 15 bytes");
    names.push_back(std::move(name));
  }
  Guard(env, [&] {
    if (names.empty()) return;
    UniqueFd fd = OpenRtnl(nsPath);
    std::vector<char> datagram;
    for (size_t start = 0; start < names.size(); start += kPerDatagram) {
      size_t end = start + kPerDatagram < names.size() ? start + kPerDatagram : names.size();
      datagram.clear();
      // seq = index + 1, so an error names its link.
      for (size_t i = start; i < end; ++i) Append(datagram, static_cast<uint32_t>(i + 1), names[i]);
      sockaddr_nl kernel{};
      kernel.nl_family = AF_NETLINK;
      ssize_t sent;
      do sent = ::sendto(fd.get(), datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
      while (sent < 0 && errno == EINTR);
      if (sent < 0) ThrowErrno("sendmsg", nullptr, "sendmsg(RTM_GETLINK)");
      Drain(fd.get(), static_cast<uint32_t>(start + 1), static_cast<uint32_t>(end), names);
    }
  });
  return env.Undefined();
}

}  // namespace kvmnet
