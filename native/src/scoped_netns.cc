#include "scoped_netns.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

namespace kvmnet {

ScopedNetns::ScopedNetns(const std::string& path) {
  if (path.empty()) return;
  UniqueFd target(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!target.valid()) ThrowErrno("open", path);
  // thread-self, not self: the namespace to come back to is this thread's, which may already differ
  // from the process's when calls are nested.
  UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!home.valid()) ThrowErrno("open", "/proc/thread-self/ns/net");
  if (::setns(target.get(), CLONE_NEWNET) != 0) ThrowErrno("setns", path);
  home_ = std::move(home);
}

ScopedNetns::~ScopedNetns() {
  if (!home_.valid()) return;
  if (::setns(home_.get(), CLONE_NEWNET) != 0) {
    // The event loop's thread would go on running every later network call (sockets, /proc/sys writes,
    // child processes) in the wrong namespace, silently changing the wrong machine. Nothing sensible can
    // continue from here, so stop the process loudly instead.
    fprintf(stderr, "kvmnet: cannot return to the original network namespace (setns: %s); aborting\n",
            strerror(errno));
    abort();
  }
}

}  // namespace kvmnet
