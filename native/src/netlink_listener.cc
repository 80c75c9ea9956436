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
#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <vector>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace kvmnet {

namespace {

// Notifications are at most a few pages; a datagram larger than this is reported as an overrun.
constexpr size_t kBufferBytes = 64 * 1024;
// Datagrams read per wake-up: the poll is level-triggered, so the rest is read on the next turn of the
// loop and a flood cannot starve everything else.
constexpr int kPerWakeup = 256;

class NetlinkListener : public Napi::ObjectWrap<NetlinkListener> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NetlinkListener",
                       {
                           InstanceAccessor<&NetlinkListener::Fd>("fd"),
                           InstanceAccessor<&NetlinkListener::Port>("port"),
                           InstanceMethod<&NetlinkListener::Start>("start"),
                           InstanceMethod<&NetlinkListener::Send>("send"),
                           InstanceMethod<&NetlinkListener::RefLoop>("ref"),
                           InstanceMethod<&NetlinkListener::UnrefLoop>("unref"),
                           InstanceMethod<&NetlinkListener::Close>("close"),
                       });
  }

  explicit NetlinkListener(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetlinkListener>(info), buffer_(kBufferBytes) {
    Napi::Env env = info.Env();
    int32_t protocol = IntArg(info, 0, "protocol");
    if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env, "onEvent must be a function");
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "kvmnet:NetlinkListener");
    Guard(env, [&] {
      int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
      if (fd < 0) ThrowErrno("socket", nullptr, "socket(AF_NETLINK)");
      sockaddr_nl addr{};
      addr.nl_family = AF_NETLINK;
      socklen_t len = sizeof addr;
      if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        int err = errno;
        ::close(fd);
        errno = err;
        ThrowErrno("bind", nullptr, "bind(AF_NETLINK)");
      }
      fd_ = fd;
      port_ = addr.nl_pid;
    });
  }

  ~NetlinkListener() override { Shut(); }

 private:
  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value Port(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_); }

  void Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) throw Napi::Error::New(env, "netlink listener is closed");
    if (poll_) return;
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) throw Napi::Error::New(env, "no event loop");
    auto poll = std::make_unique<uv_poll_t>();
    if (int err = uv_poll_init(loop, poll.get(), fd_)) throw ToJsError(env, SysFailure{-err, "uv_poll_init", "", ""});
    poll->data = this;
    if (int err = uv_poll_start(poll.get(), UV_READABLE, OnPoll)) {
      uv_close(reinterpret_cast<uv_handle_t*>(poll.release()), FreePoll);
      throw ToJsError(env, SysFailure{-err, "uv_poll_start", "", ""});
    }
    poll_ = poll.release();
    // Kept alive while it listens: the JS side may hold it only through its event handlers.
    Ref();
  }

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

  void RefLoop(const Napi::CallbackInfo&) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  void UnrefLoop(const Napi::CallbackInfo&) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }

  void Close(const Napi::CallbackInfo&) {
    bool listening = poll_ != nullptr;
    Shut();
    if (listening) Unref();
  }

  void Shut() {
    if (poll_) {
      // uv_close stops the poll before the fd goes; the handle's memory is freed once libuv is done with it.
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), FreePoll);
      poll_ = nullptr;
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    // A strong reference is a GC root: the callback's closure holds the JS side, which holds this object's
    // wrapper, so kept past close it made every closed listener live for good. Nothing is emitted after.
    callback_.Reset();
  }

  static void FreePoll(uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<NetlinkListener*>(handle->data);
    Napi::HandleScope scope(self->Env());
    if (status < 0) {
      // EPOLLERR: the socket's pending error, read (and so cleared) here. libuv stopped the poll.
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == ENOBUFS || err == 0)
        self->Emit("overrun");
      else
        self->EmitError(err, "getsockopt(SO_ERROR)");
      if (self->poll_ != handle) return;  // closed by the callback
      if (int e = uv_poll_start(handle, UV_READABLE, OnPoll)) {
        self->EmitError(-e, "uv_poll_start");
        return;
      }
      events = UV_READABLE;
    }
    if (events & UV_READABLE) self->Drain(handle);
  }

  void Drain(uv_poll_t* handle) {
    for (int i = 0; i < kPerWakeup && poll_ == handle; i++) {
      ssize_t n = ::recv(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == ENOBUFS) {
          Emit("overrun");
          continue;
        }
        EmitError(errno, "recv");
        return;
      }
      if (static_cast<size_t>(n) > buffer_.size()) {
        // Cut short: what it said is unknown, as after an overflow.
        Emit("overrun");
        continue;
      }
      Emit("message", Napi::Buffer<uint8_t>::Copy(Env(), buffer_.data(), static_cast<size_t>(n)));
    }
  }

  void EmitError(int err, const char* op) { Emit("error", ToJsError(Env(), SysFailure{err, "netlink", "", op}).Value()); }

  void Emit(const char* kind, Napi::Value arg = Napi::Value()) {
    if (callback_.IsEmpty()) return;
    Napi::Env env = Env();
    std::vector<napi_value> args{Napi::String::New(env, kind)};
    if (!arg.IsEmpty()) args.push_back(arg);
    try {
      callback_.MakeCallback(Value(), args, *context_);
    } catch (const Napi::Error& e) {
      // Thrown by the JS callback: Node's uncaughtException, never an exception through libuv.
      napi_fatal_exception(env, e.Value());
    }
  }

  int fd_ = -1;
  uint32_t port_ = 0;
  uv_poll_t* poll_ = nullptr;
  std::vector<uint8_t> buffer_;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

}  // namespace

void InitNetlinkListener(Napi::Env env, Napi::Object exports) { exports.Set("NetlinkListener", NetlinkListener::Define(env)); }

}  // namespace kvmnet
