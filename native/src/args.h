// Argument checks for the exported functions. The TypeScript wrapper validates user input; these only
// catch a wrong call from kvmnet itself, and throw TypeError (no errno) because no syscall was made.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace kvmnet {

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* what);
int32_t IntArg(const Napi::CallbackInfo& info, size_t i, const char* what);
uint32_t Uint32Arg(const Napi::CallbackInfo& info, size_t i, const char* what);
bool BoolArg(const Napi::CallbackInfo& info, size_t i, const char* what);
// A namespace path, or "" for null/undefined (meaning: the calling thread's own namespace).
std::string OptionalPathArg(const Napi::CallbackInfo& info, size_t i, const char* what);

}  // namespace kvmnet
