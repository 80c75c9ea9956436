// flock(2) without blocking the event loop: one non-blocking attempt; the JS side waits between
// attempts. A flock belongs to the open file description, so two opens of the same file — two processes,
// or two handles in one process — exclude each other, and the kernel drops the lock when its holder dies.
#include <errno.h>
#include <sys/file.h>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace kvmnet {

Napi::Value FlockTry(const Napi::CallbackInfo& info) {
  int32_t fd = IntArg(info, 0, "fd");
  bool exclusive = BoolArg(info, 1, "exclusive");
  bool taken = false;
  Guard(info.Env(), [&] {
    for (;;) {
      if (::flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0) {
        taken = true;
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EWOULDBLOCK) return;
      ThrowErrno("flock", nullptr, "flock");
    }
  });
  return Napi::Boolean::New(info.Env(), taken);
}

}  // namespace kvmnet
