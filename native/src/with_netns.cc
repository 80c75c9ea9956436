// Runs a JS callback with the calling thread inside another network namespace. Whatever the callback
// creates there (netlink sockets, /proc/sys/net fds, tun fds) stays bound to that namespace after the
// thread returns home.
#include "args.h"
#include "errors.h"
#include "exports.h"
#include "scoped_netns.h"

namespace kvmnet {

Napi::Value WithNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env, "fn must be a function");
  Napi::Function fn = info[1].As<Napi::Function>();

  // The guard's destructor restores the namespace on both paths out of Call: a normal return and a JS
  // exception (surfacing here as a C++ Napi::Error), which then propagates to the caller unchanged.
  return Guard(env, [&]() -> Napi::Value {
    ScopedNetns inside(path);
    return fn.Call(env.Undefined(), {});
  });
}

}  // namespace kvmnet
