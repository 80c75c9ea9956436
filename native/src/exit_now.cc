// _exit(2) for the kvmnet and kvmnet-cni programs once their command has answered (src/native/fast-exit.ts).
// process.exit() ends through Node's teardown: the platform's worker threads joined, the V8 isolate and
// its heap freed page by page, N-API cleanup hooks (the nft threads' libnftables contexts freed), static
// destructors. A process about to end needs none of it: the kernel takes back its memory, threads,
// sockets and descriptors in one go. Everything the command wrote went out through write(2) before
// (state, journal, output: fd 1 and 2 written synchronously), so nothing is left half-written.
#include <napi.h>
#include <unistd.h>

#include "exports.h"

namespace kvmnet {

[[noreturn]] Napi::Value ExitNow(const Napi::CallbackInfo& info) {
  int code = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  ::_exit(code & 0xff);
}

}  // namespace kvmnet
