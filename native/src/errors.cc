#include "errors.h"

#include <errno.h>
#include <string.h>

namespace kvmnet {

void ThrowErrno(const char* syscall, const char* path, const char* op) {
  int err = errno;
  throw SysFailure{err, syscall, path ? path : "", op ? op : ""};
}

void ThrowErrno(const char* syscall, const std::string& path, const char* op) {
  int err = errno;
  throw SysFailure{err, syscall, path, op ? op : ""};
}

Napi::Error ToJsError(Napi::Env env, const SysFailure& f, const std::string& prefix) {
  // strerrorname_np (glibc >= 2.32) gives the symbolic name, so JS never has to parse the message.
  const char* name = strerrorname_np(f.err);
  std::string code = name ? name : "E" + std::to_string(f.err);
  std::string message = prefix;
  message += f.op.empty() ? f.syscall : f.op;
  if (!f.path.empty()) message += " " + f.path;
  message += ": ";
  message += strerror(f.err);

  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object obj = error.Value();
  obj.Set("errno", Napi::Number::New(env, f.err));
  obj.Set("code", Napi::String::New(env, code));
  obj.Set("syscall", Napi::String::New(env, f.syscall));
  if (!f.path.empty()) obj.Set("path", Napi::String::New(env, f.path));
  return error;
}

}  // namespace kvmnet
