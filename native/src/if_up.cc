// Brings one interface up with the classic ioctls. Only used for `lo` in a fresh namespace, where an
// rtnetlink socket would be more machinery than the job needs.
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "args.h"
#include "errors.h"
#include "exports.h"
#include "unique_fd.h"

namespace kvmnet {

Napi::Value IfUp(const Napi::CallbackInfo& info) {
  std::string name = StringArg(info, 0, "name");
  if (name.empty() || name.size() >= IFNAMSIZ)
    throw Napi::TypeError::New(info.Env(), "name must be 1 to 15 bytes");
  Guard(info.Env(), [&] {
    // The socket is created in the calling thread's current namespace, which is what makes this work
    // inside withNetns.
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock.valid()) ThrowErrno("socket");
    ifreq ifr{};
    memcpy(ifr.ifr_name, name.data(), name.size());
    if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) ThrowErrno("ioctl", name, "ioctl(SIOCGIFFLAGS)");
    if (ifr.ifr_flags & IFF_UP) return;
    ifr.ifr_flags |= IFF_UP;
    if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) ThrowErrno("ioctl", name, "ioctl(SIOCSIFFLAGS)");
  });
  return info.Env().Undefined();
}

}  // namespace kvmnet
