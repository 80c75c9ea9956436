// `ip netns add`, without forking ip: a file under /run/netns with a new network namespace bind-mounted
// on it, so the namespace outlives every process in it and other tools (ip, nsenter) see it by name.
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace kvmnet {

namespace {

std::string DirName(const std::string& path) {
  std::string copy = path;
  return ::dirname(copy.data());
}

// Same recipe as iproute2: the directory must be a shared mount, so that namespaces mounted on its files
// propagate to mount namespaces created later (and `ip netns` in another mount namespace still sees
// them). If it is not a mount point at all (EINVAL), bind it onto itself first.
void EnsureSharedDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) ThrowErrno("mkdir", dir);
  bool bound = false;
  while (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) != 0) {
    if (errno != EINVAL || bound) ThrowErrno("mount", dir, "mount(MS_SHARED)");
    if (::mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0)
      ThrowErrno("mount", dir, "mount(MS_BIND)");
    bound = true;
  }
}

struct UnshareJob {
  std::string path;
  int err = 0;
  const char* syscall = nullptr;
};

// Runs on a throwaway thread: unshare(CLONE_NEWNET) only moves the calling thread, and that thread then
// dies, so the Node thread never leaves its own namespace, even for an instant.
void* UnshareAndBind(void* arg) {
  auto* job = static_cast<UnshareJob*>(arg);
  if (::unshare(CLONE_NEWNET) != 0) {
    job->err = errno;
    job->syscall = "unshare";
    return nullptr;
  }
  char self[64];
  snprintf(self, sizeof self, "/proc/self/task/%ld/ns/net", static_cast<long>(::gettid()));
  if (::mount(self, job->path.c_str(), "none", MS_BIND, nullptr) != 0) {
    job->err = errno;
    job->syscall = "mount";
  }
  return nullptr;
}

void Create(const std::string& path) {
  EnsureSharedDir(DirName(path));
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) ThrowErrno("open", path);
  ::close(fd);

  UnshareJob job;
  job.path = path;
  pthread_t thread;
  int rc = ::pthread_create(&thread, nullptr, UnshareAndBind, &job);
  if (rc != 0) {
    job.err = rc;
    job.syscall = "pthread_create";
  } else {
    ::pthread_join(thread, nullptr);
  }
  if (job.err != 0) {
    // Leave no empty file behind: `ip netns list` would show a namespace that cannot be entered.
    ::unlink(path.c_str());
    throw SysFailure{job.err, job.syscall, path, ""};
  }
}

}  // namespace

Napi::Value NetnsCreate(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info, 0, "path");
  Guard(info.Env(), [&] { Create(path); });
  return info.Env().Undefined();
}

}  // namespace kvmnet
