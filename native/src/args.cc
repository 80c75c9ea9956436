#include "args.h"

#include <cmath>

namespace kvmnet {

namespace {
[[noreturn]] void Bad(Napi::Env env, const char* what, const char* expected) {
  throw Napi::TypeError::New(env, std::string(what) + " must be " + expected);
}
}  // namespace

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsString()) Bad(info.Env(), what, "a string");
  std::string s = info[i].As<Napi::String>().Utf8Value();
  // An embedded NUL would silently truncate the path at the C boundary.
  if (s.find('\0') != std::string::npos) Bad(info.Env(), what, "a string without NUL bytes");
  return s;
}

int32_t IntArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsNumber()) Bad(info.Env(), what, "an integer");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (std::trunc(d) != d || d < INT32_MIN || d > INT32_MAX) Bad(info.Env(), what, "a 32-bit integer");
  return static_cast<int32_t>(d);
}

uint32_t Uint32Arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsNumber()) Bad(info.Env(), what, "an integer");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (std::trunc(d) != d || d < 0 || d > UINT32_MAX) Bad(info.Env(), what, "an unsigned 32-bit integer");
  return static_cast<uint32_t>(d);
}

bool BoolArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsBoolean()) Bad(info.Env(), what, "a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

std::string OptionalPathArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return "";
  std::string s = StringArg(info, i, what);
  if (s.empty()) Bad(info.Env(), what, "a non-empty path or null");
  return s;
}

}  // namespace kvmnet
