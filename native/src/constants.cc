// Kernel constants the TypeScript layers need for setsockoptInt and friends, taken from the headers this
// addon is compiled against rather than retyped in JS.
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include "exports.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

namespace kvmnet {

Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  auto set = [&](const char* name, long value) { c.Set(name, Napi::Number::New(env, static_cast<double>(value))); };
  set("SOL_SOCKET", SOL_SOCKET);
  set("SO_RCVBUF", SO_RCVBUF);
  set("SO_SNDBUF", SO_SNDBUF);
  set("SO_RCVBUFFORCE", SO_RCVBUFFORCE);
  set("SO_SNDBUFFORCE", SO_SNDBUFFORCE);
  set("SOL_NETLINK", SOL_NETLINK);
  set("NETLINK_ROUTE", NETLINK_ROUTE);
  set("NETLINK_NETFILTER", NETLINK_NETFILTER);
  set("NETLINK_CAP_ACK", NETLINK_CAP_ACK);
  set("NETLINK_EXT_ACK", NETLINK_EXT_ACK);
  set("NETLINK_GET_STRICT_CHK", NETLINK_GET_STRICT_CHK);
  set("NETLINK_NO_ENOBUFS", NETLINK_NO_ENOBUFS);
  set("CLONE_NEWNET", CLONE_NEWNET);
  set("MNT_DETACH", MNT_DETACH);
  set("IFF_TUN", IFF_TUN);
  set("IFF_TAP", IFF_TAP);
  set("IFF_NO_PI", IFF_NO_PI);
  set("IFF_VNET_HDR", IFF_VNET_HDR);
  set("IFF_MULTI_QUEUE", IFF_MULTI_QUEUE);
  c.Freeze();
  return c;
}

}  // namespace kvmnet
