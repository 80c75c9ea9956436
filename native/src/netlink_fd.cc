// Finds the descriptor behind a netlink socket that another library opened. The npm `netlink` package
// hides its fd, but the port id it reports is unique per protocol in a namespace, and this process's
// fds can be walked in /proc/self/fd, so (protocol, port id) identifies the socket.
#include <dirent.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace kvmnet {

namespace {

bool IsNetlinkWith(int fd, uint32_t portId, int protocol) {
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &value, &len) != 0 || value != AF_NETLINK) return false;
  len = sizeof value;
  if (::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &value, &len) != 0 || value != protocol) return false;
  sockaddr_nl addr{};
  len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
  return addr.nl_family == AF_NETLINK && addr.nl_pid == portId;
}

int Find(uint32_t portId, int protocol) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) ThrowErrno("opendir", "/proc/self/fd");
  int own = ::dirfd(dir);
  int found = -1;
  while (dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    long fd = ::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == own) continue;
    if (IsNetlinkWith(static_cast<int>(fd), portId, protocol)) {
      found = static_cast<int>(fd);
      break;
    }
  }
  ::closedir(dir);
  return found;
}

}  // namespace

Napi::Value FindNetlinkFd(const Napi::CallbackInfo& info) {
  uint32_t portId = Uint32Arg(info, 0, "portId");
  int32_t protocol = IntArg(info, 1, "protocol");
  int fd = Guard(info.Env(), [&] { return Find(portId, protocol); });
  return Napi::Number::New(info.Env(), fd);
}

}  // namespace kvmnet
