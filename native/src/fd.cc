// Descriptor-level helpers for fds the addon handed to JS (tap queues).
#include <errno.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <string>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace kvmnet {

Napi::Value TapSetPersist(const Napi::CallbackInfo& info) {
  int32_t fd = IntArg(info, 0, "fd");
  bool persist = BoolArg(info, 1, "persist");
  Guard(info.Env(), [&] {
    if (::ioctl(fd, TUNSETPERSIST, persist ? 1UL : 0UL) != 0) ThrowErrno("ioctl", nullptr, "ioctl(TUNSETPERSIST)");
  });
  return info.Env().Undefined();
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int32_t fd = IntArg(info, 0, "fd");
  Guard(info.Env(), [&] {
    // No retry on EINTR: on Linux the fd is released even then, and a retry could close a reused number.
    if (::close(fd) != 0 && errno != EINTR) {
      int err = errno;
      throw SysFailure{err, "close", "", "close(fd " + std::to_string(fd) + ")"};
    }
  });
  return info.Env().Undefined();
}

}  // namespace kvmnet
