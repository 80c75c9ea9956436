// Moves the calling thread into a network namespace for the lifetime of the object and always moves it
// back. Only the calling thread changes namespace (setns on a thread of a multi-threaded process), so
// libuv's pool and V8's helper threads are unaffected.
#pragma once

#include <string>

#include "unique_fd.h"

namespace kvmnet {

class ScopedNetns {
 public:
  // An empty path means "stay where we are": callers pass "" for the caller's own namespace.
  explicit ScopedNetns(const std::string& path);
  ~ScopedNetns();
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

 private:
  UniqueFd home_;
};

}  // namespace kvmnet
