// glibc's malloc_trim(0), off the event loop: gives back to the kernel the free pages glibc keeps in its
// arenas after a burst (V8's GC threads and libnftables allocate there; issue 21, RSS). It walks every
// arena under its lock, a few milliseconds, so it runs on the libuv pool and the library asks for it only
// once it has gone idle (src/native/idle-trim.ts). Without glibc (musl) it does nothing.
#include <napi.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "exports.h"

namespace kvmnet {

namespace {

class TrimWorker : public Napi::AsyncWorker {
 public:
  explicit TrimWorker(Napi::Env env)
      : Napi::AsyncWorker(env, "kvmnet.mallocTrim"), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
#ifdef __GLIBC__
    released_ = ::malloc_trim(0) != 0;
#endif
  }

  void OnOK() override { deferred_.Resolve(Napi::Boolean::New(Env(), released_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  bool released_ = false;
};

}  // namespace

Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
  auto* worker = new TrimWorker(info.Env());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace kvmnet
