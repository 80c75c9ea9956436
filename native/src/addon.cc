// kvmnet's native addon: the few kernel operations Node has no API for (namespaces, tun/tap, raw socket
// options) and libnftables, loaded at run time. Everything else is done from TypeScript over netlink or
// with dnsmasq.
#include <napi.h>

#include "exports.h"

namespace kvmnet {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("netnsCreate", Napi::Function::New(env, NetnsCreate, "netnsCreate"));
  exports.Set("netnsDelete", Napi::Function::New(env, NetnsDelete, "netnsDelete"));
  exports.Set("withNetns", Napi::Function::New(env, WithNetns, "withNetns"));
  exports.Set("findNetlinkFd", Napi::Function::New(env, FindNetlinkFd, "findNetlinkFd"));
  exports.Set("setsockoptInt", Napi::Function::New(env, SetsockoptInt, "setsockoptInt"));
  exports.Set("netlinkWidenDumps", Napi::Function::New(env, NetlinkWidenDumps, "netlinkWidenDumps"));
  exports.Set("netlinkSendOffLoop", Napi::Function::New(env, NetlinkSendOffLoop, "netlinkSendOffLoop"));
  exports.Set("ifUp", Napi::Function::New(env, IfUp, "ifUp"));
  exports.Set("tapCreate", Napi::Function::New(env, TapCreate, "tapCreate"));
  exports.Set("tapCreateMany", Napi::Function::New(env, TapCreateMany, "tapCreateMany"));
  exports.Set("tapSetPersist", Napi::Function::New(env, TapSetPersist, "tapSetPersist"));
  exports.Set("tapSettle", Napi::Function::New(env, TapSettle, "tapSettle"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("flockTry", Napi::Function::New(env, FlockTry, "flockTry"));
  exports.Set("nftLoad", Napi::Function::New(env, NftLoad, "nftLoad"));
  exports.Set("nftLoadAsync", Napi::Function::New(env, NftLoadAsync, "nftLoadAsync"));
  exports.Set("nftRun", Napi::Function::New(env, NftRun, "nftRun"));
  exports.Set("nftRelease", Napi::Function::New(env, NftRelease, "nftRelease"));
  exports.Set("mallocTrim", Napi::Function::New(env, MallocTrim, "mallocTrim"));
  exports.Set("sha256", Napi::Function::New(env, Sha256, "sha256"));
  exports.Set("exitNow", Napi::Function::New(env, ExitNow, "exitNow"));
  exports.Set("constants", Constants(env));
  InitNetlinkListener(env, exports);
  InitNetlinkSocket(env, exports);
  return exports;
}

}  // namespace kvmnet

// NODE_API_MODULE pastes the function name into an identifier, so it needs an unqualified one.
static Napi::Object InitKvmnet(Napi::Env env, Napi::Object exports) { return kvmnet::Init(env, exports); }

NODE_API_MODULE(kvmnet, InitKvmnet)
