// Sends one netlink datagram from a libuv pool thread instead of the event loop's. A netlink request is
// carried out inside the sender's sendmsg(): for RTM_DELLINK that includes netdev_run_todo(), which
// releases the rtnl lock and then waits in rcu_barrier() and for the devices' references (tens of ms)
// before the call returns. Sent from the event loop, that stalls every other callback of the process.
// The kernel's answer still arrives on the socket, where the event loop reads it as any other reply.
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace kvmnet {

namespace {

class SendWorker : public Napi::AsyncWorker {
 public:
  // fd is a duplicate owned by the worker: the caller may close its socket before the pool runs this,
  // and a number reused by another open() must never receive the datagram.
  SendWorker(Napi::Env env, int fd, std::vector<char> bytes)
      : Napi::AsyncWorker(env, "kvmnetNetlinkSend"), deferred_(Napi::Promise::Deferred::New(env)), fd_(fd), bytes_(std::move(bytes)) {}

  ~SendWorker() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t n;
    do {
      n = ::sendto(fd_, bytes_.data(), bytes_.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    } while (n < 0 && errno == EINTR);
    if (n < 0) err_ = errno;
  }

  void OnOK() override {
    if (err_ == 0) {
      deferred_.Resolve(Env().Undefined());
      return;
    }
    deferred_.Reject(ToJsError(Env(), SysFailure{err_, "sendmsg", "", "sendmsg(netlink)"}).Value());
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  int fd_;
  std::vector<char> bytes_;
  int err_ = 0;
};

}  // namespace

// netlinkSendOffLoop(fd, datagram): a promise settled once the datagram's sendmsg() has returned (the
// kernel's replies are read from the socket as usual); rejects with the errno of a failed send.
Napi::Value NetlinkSendOffLoop(const Napi::CallbackInfo& info) {
  int32_t fd = IntArg(info, 0, "fd");
  if (info.Length() < 2 || !info[1].IsBuffer()) throw Napi::TypeError::New(info.Env(), "datagram must be a Buffer");
  auto buf = info[1].As<Napi::Buffer<char>>();
  int dup = Guard(info.Env(), [&] {
    int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) ThrowErrno("fcntl", nullptr, "fcntl(F_DUPFD_CLOEXEC)");
    return d;
  });
  auto* worker = new SendWorker(info.Env(), dup, std::vector<char>(buf.Data(), buf.Data() + buf.Length()));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace kvmnet
