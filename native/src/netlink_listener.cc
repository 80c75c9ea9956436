// A netlink socket that listens to multicast groups, read on the Node event loop (uv_poll).
//
// Why kvmnet owns this socket instead of the npm `netlink` package's: a receive queue that overflows
// (a burst of notifications while the process was stopped or busy) sets the socket's error to ENOBUFS,
// epoll reports EPOLLERR, and that package then builds its error with a null syscall name, which throws
// a C++ exception inside a libuv callback: std::terminate, SIGABRT, the host process gone. Here an
// overflow is an ordinary event ("overrun": notifications were lost, the state must be read afresh),
// the socket keeps listening, and nothing thrown by the JS callback escapes into libuv (it is handed to
// Node as an uncaught exception, like one thrown by any event handler).
//
// JS: new NetlinkListener(protocol, onEvent) opens and binds the socket in the calling thread's
// namespace (the kernel picks the port id); the caller joins groups and sets options with
// setsockoptInt(fd, ...), then start(). onEvent('message', Buffer) per datagram, onEvent('overrun'),
// onEvent('error', Error). send(Buffer) sends a request to the kernel on the same socket (its answer
// comes back as a 'message'). close() is idempotent.
#include <vector>

#include "args.h"
#include "netlink_polled.h"

namespace kvmnet {

namespace {

// Notifications are at most a few pages; a datagram larger than this is reported as an overrun.
constexpr size_t kBufferBytes = 64 * 1024;

class NetlinkListener : public PolledNetlink<NetlinkListener> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NetlinkListener",
                       {
                           InstanceAccessor("fd", &NetlinkListener::Fd, nullptr),
                           InstanceAccessor<&NetlinkListener::Port>("port"),
                           InstanceMethod("start", &NetlinkListener::Start),
                           InstanceMethod<&NetlinkListener::Send>("send"),
                           InstanceMethod("ref", &NetlinkListener::RefLoop),
                           InstanceMethod("unref", &NetlinkListener::UnrefLoop),
                           InstanceMethod("close", &NetlinkListener::Close),
                       });
  }

  explicit NetlinkListener(const Napi::CallbackInfo& info) : PolledNetlink<NetlinkListener>(info), buffer_(kBufferBytes) {
    Napi::Env env = info.Env();
    int32_t protocol = IntArg(info, 0, "protocol");
    if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env, "onEvent must be a function");
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "kvmnet:NetlinkListener");
    port_ = OpenBound(env, protocol, 0);
  }

  ~NetlinkListener() override { Shut(); }

 private:
  friend class PolledNetlink<NetlinkListener>;
  static constexpr int kPerWakeup = 256;

  Napi::Value Port(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_); }

  void Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) throw Napi::Error::New(env, "netlink listener is closed");
    if (info.Length() < 1 || !info[0].IsBuffer()) throw Napi::TypeError::New(env, "message must be a Buffer");
    auto msg = info[0].As<Napi::Buffer<uint8_t>>();
    Guard(env, [&] {
      sockaddr_nl kernel{};
      kernel.nl_family = AF_NETLINK;
      for (;;) {
        ssize_t n = ::sendto(fd_, msg.Data(), msg.Length(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
        if (n >= 0) return;
        if (errno != EINTR) ThrowErrno("sendto", nullptr, "sendto(AF_NETLINK)");
      }
    });
  }

  // PolledNetlink's hooks. A datagram cut short says something unknown, as after an overflow.
  uint8_t* RecvData() { return buffer_.data(); }
  size_t RecvSize() { return buffer_.size(); }
  void OnOverrun() { Emit("overrun"); }
  void OnTruncated(size_t) { Emit("overrun"); }
  void OnFailure(int err, const char* op) { Emit("error", ToJsError(Env(), SysFailure{err, "netlink", "", op}).Value()); }
  void OnDatagram(size_t n) { Emit("message", Napi::Buffer<uint8_t>::Copy(Env(), buffer_.data(), n)); }
  void ReleaseJs() { callback_.Reset(); }

  void Emit(const char* kind, Napi::Value arg = Napi::Value()) {
    std::vector<napi_value> args{Napi::String::New(Env(), kind)};
    if (!arg.IsEmpty()) args.push_back(arg);
    Call(callback_, *context_, args.size(), args.data());
  }

  uint32_t port_ = 0;
  std::vector<uint8_t> buffer_;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

}  // namespace

void InitNetlinkListener(Napi::Env env, Napi::Object exports) { exports.Set("NetlinkListener", NetlinkListener::Define(env)); }

}  // namespace kvmnet
