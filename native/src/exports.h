// The functions the addon exports; each lives in the file named after its concern.
#pragma once

#include <napi.h>

namespace kvmnet {

Napi::Value NetnsCreate(const Napi::CallbackInfo& info);
Napi::Value NetnsDelete(const Napi::CallbackInfo& info);
Napi::Value WithNetns(const Napi::CallbackInfo& info);
Napi::Value FindNetlinkFd(const Napi::CallbackInfo& info);
Napi::Value SetsockoptInt(const Napi::CallbackInfo& info);
Napi::Value NetlinkWidenDumps(const Napi::CallbackInfo& info);
Napi::Value NetlinkSendOffLoop(const Napi::CallbackInfo& info);
Napi::Value IfUp(const Napi::CallbackInfo& info);
Napi::Value TapCreate(const Napi::CallbackInfo& info);
Napi::Value TapCreateMany(const Napi::CallbackInfo& info);
Napi::Value TapSetPersist(const Napi::CallbackInfo& info);
Napi::Value TapSettle(const Napi::CallbackInfo& info);
Napi::Value CloseFd(const Napi::CallbackInfo& info);
Napi::Value FlockTry(const Napi::CallbackInfo& info);
Napi::Value NftLoad(const Napi::CallbackInfo& info);
Napi::Value NftLoadAsync(const Napi::CallbackInfo& info);
Napi::Value NftRun(const Napi::CallbackInfo& info);
Napi::Value NftRelease(const Napi::CallbackInfo& info);
Napi::Value MallocTrim(const Napi::CallbackInfo& info);
Napi::Value Sha256(const Napi::CallbackInfo& info);
[[noreturn]] Napi::Value ExitNow(const Napi::CallbackInfo& info);
Napi::Object Constants(Napi::Env env);
void InitNetlinkListener(Napi::Env env, Napi::Object exports);
void InitNetlinkSocket(Napi::Env env, Napi::Object exports);

}  // namespace kvmnet
