#include <errno.h>
#include <sys/socket.h>

#include <string>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace kvmnet {

Napi::Value SetsockoptInt(const Napi::CallbackInfo& info) {
  int32_t fd = IntArg(info, 0, "fd");
  int32_t level = IntArg(info, 1, "level");
  int32_t optname = IntArg(info, 2, "optname");
  int value = IntArg(info, 3, "value");
  Guard(info.Env(), [&] {
    if (::setsockopt(fd, level, optname, &value, sizeof value) != 0) {
      int err = errno;
      throw SysFailure{err, "setsockopt", "", "setsockopt(fd " + std::to_string(fd) + ")"};
    }
  });
  return info.Env().Undefined();
}

}  // namespace kvmnet
