// `ip netns del`: detach the namespace mount, then remove the file. The namespace itself lives on while
// any process or open fd still holds it, exactly as with iproute2.
#include <errno.h>
#include <sys/mount.h>
#include <unistd.h>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace kvmnet {

Napi::Value NetnsDelete(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info, 0, "path");
  Guard(info.Env(), [&] {
    // EINVAL: the file is not a mount point (a leftover from a failed create); still remove it.
    if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL) ThrowErrno("umount2", path);
    if (::unlink(path.c_str()) != 0) ThrowErrno("unlink", path);
  });
  return info.Env().Undefined();
}

}  // namespace kvmnet
