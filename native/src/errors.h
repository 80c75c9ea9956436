// Failures of system calls. Code below the JS boundary throws SysFailure (plain C++, usable where no
// napi_env is at hand, e.g. on a helper pthread); the exported functions turn it into a JS Error that
// carries errno, code, syscall and path, the shape src/native/index.ts maps to SystemError.
#pragma once

#include <napi.h>

#include <string>

namespace kvmnet {

struct SysFailure {
  int err;               // positive errno
  std::string syscall;   // 'setns', 'ioctl', 'mount'
  std::string path;      // file or interface the call was about; may be empty
  std::string op;        // finer label for the message, e.g. 'ioctl(TUNSETIFF)'; may be empty
};

// Captures errno at the call site: call it right after the failed syscall. The parameters are pointers
// and references so that building them cannot allocate (and so clobber errno) before it is read.
[[noreturn]] void ThrowErrno(const char* syscall, const char* path = nullptr, const char* op = nullptr);
[[noreturn]] void ThrowErrno(const char* syscall, const std::string& path, const char* op = nullptr);

Napi::Error ToJsError(Napi::Env env, const SysFailure& failure, const std::string& prefix = "");

// Runs body, converting a SysFailure into the JS Error thrown to the caller.
template <typename F>
auto Guard(Napi::Env env, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const SysFailure& f) {
    throw ToJsError(env, f);
  }
}

}  // namespace kvmnet
