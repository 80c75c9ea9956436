// The JS side of libnftables: load it (at run time, by name), run one command in a namespace (a promise;
// the work happens on that namespace's thread, see nft_worker.h), let a namespace's thread go.
#include <memory>
#include <string>
#include <utility>

#include "args.h"
#include "errors.h"
#include "exports.h"
#include "libnftables.h"
#include "nft_worker.h"

namespace kvmnet {

namespace {

struct Pending {
  explicit Pending(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise::Deferred deferred;
};

// On the event loop's thread: settles the promise with what the namespace's thread produced.
void Settle(Napi::Env env, Napi::Function, Pending* pending, NftOutcome* out) {
  std::unique_ptr<NftOutcome> owned(out);
  // env is null when the environment is being torn down: nobody is left to tell.
  if (env == nullptr || !owned) return;
  if (owned->failed) {
    pending->deferred.Reject(ToJsError(env, owned->failure).Value());
    return;
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("rc", Napi::Number::New(env, owned->rc));
  result.Set("output", Napi::String::New(env, owned->output));
  result.Set("error", Napi::String::New(env, owned->error));
  pending->deferred.Resolve(result);
}

using Tsfn = Napi::TypedThreadSafeFunction<Pending, NftOutcome, Settle>;

// dlopen of libnftables and the libraries it needs (libnftnl, libmnl, libgmp, libjansson, libxtables):
// ~2-3 ms of mmaps and page faults, on the libuv pool instead of the event loop's thread.
class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, std::string path)
      : Napi::AsyncWorker(env, "kvmnet.nftLoadAsync"), deferred_(Napi::Promise::Deferred::New(env)), path_(std::move(path)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override { ok_ = LoadNftLib(path_, &error_) != nullptr; }

  void OnOK() override {
    Napi::Env env = Env();
    deferred_.Resolve(ok_ ? env.Null() : Napi::String::New(env, error_));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  std::string error_;
  bool ok_ = false;
};

}  // namespace

// nftLoad(path): null when libnftables is loaded (from `path`, or already), else dlerror's text.
Napi::Value NftLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  std::string error;
  if (LoadNftLib(path, &error)) return env.Null();
  return Napi::String::New(env, error);
}

// nftLoadAsync(path): Promise of what nftLoad(path) returns, the load done on the libuv pool. A later
// nftLoad of the same library (under the same mutex) finds it loaded.
Napi::Value NftLoadAsync(const Napi::CallbackInfo& info) {
  auto* worker = new LoadWorker(info.Env(), StringArg(info, 0, "path"));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// nftRun(nsPath, command): Promise<{ rc, output, error }>; rejects only when nft could not run at all.
Napi::Value NftRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "nsPath");
  std::string command = StringArg(info, 1, "command");
  if (!LoadedNftLib()) throw Napi::Error::New(env, "libnftables is not loaded (call nftLoad first)");
  auto* pending = new Pending(env);
  Napi::Promise promise = pending->deferred.Promise();
  // One threadsafe function per command: it holds the event loop open until the command has run, and
  // frees `pending` once released.
  Tsfn tsfn = Tsfn::New(env, "kvmnet.nftRun", 0, 1, pending, [](Napi::Env, void*, Pending* p) { delete p; });
  try {
    SubmitNft(path, std::move(command), [tsfn](NftOutcome&& out) mutable {
      auto* data = new NftOutcome(std::move(out));
      if (tsfn.BlockingCall(data) != napi_ok) delete data;
      tsfn.Release();
    });
  } catch (const SysFailure& f) {
    tsfn.Release();
    throw ToJsError(env, f);
  }
  return promise;
}

// nftRelease(nsPath): the namespace's thread (if any) exits once its queue is done.
Napi::Value NftRelease(const Napi::CallbackInfo& info) {
  RetireNft(StringArg(info, 0, "nsPath"));
  return info.Env().Undefined();
}

}  // namespace kvmnet
