// The request socket of kvmnet's rtnetlink layer (src/rtnl/socket.ts): a netlink socket whose datagrams are
// read, on the Node event loop, into ONE buffer the JS side owns and reuses, instead of a fresh malloc'd
// Buffer per datagram as the npm `netlink` package does. Those Buffers were freed only when V8 collected
// them: bringing up 100 networks with 1000 ports left ~10 MB of them and their wrappers in the process, and
// enough of them survived V8's scavenges for it to grow its young generation from 2 to 16 MB. Here the
// callback is told only what arrived and how long it is; the JS side decodes in place and copies the few
// replies it keeps. One recvmsg per datagram (the package peeked each one's size first: two).
//
// JS: new NetlinkSocket(protocol, port, buffer, onEvent) opens the socket in the calling thread's namespace,
// bound to `port` (EADDRINUSE is thrown as such for the caller to pick another). start() begins reading.
// onEvent(kind, n): kind 0 a datagram of n bytes is in buffer[0, n); 1 a datagram of n bytes did not fit
// the buffer (MSG_TRUNC: it is lost, and said so); 2 the kernel dropped datagrams (ENOBUFS); 3 the socket
// failed with errno n. send(buffers) sends them as one datagram and returns 0 or the errno. close() is
// idempotent, also from inside onEvent.
#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <vector>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace kvmnet {

namespace {

enum EventKind { kMessage = 0, kTruncated = 1, kOverrun = 2, kError = 3 };

// Datagrams read per wake-up: the poll is level-triggered, so the rest is read on the next turn of the
// loop and a flood of replies cannot starve everything else.
constexpr int kPerWakeup = 64;

class NetlinkSocket : public Napi::ObjectWrap<NetlinkSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NetlinkSocket",
                       {
                           InstanceAccessor<&NetlinkSocket::Fd>("fd"),
                           InstanceMethod<&NetlinkSocket::Start>("start"),
                           InstanceMethod<&NetlinkSocket::Send>("send"),
                           InstanceMethod<&NetlinkSocket::RefLoop>("ref"),
                           InstanceMethod<&NetlinkSocket::UnrefLoop>("unref"),
                           InstanceMethod<&NetlinkSocket::Close>("close"),
                       });
  }

  explicit NetlinkSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetlinkSocket>(info) {
    Napi::Env env = info.Env();
    int32_t protocol = IntArg(info, 0, "protocol");
    uint32_t port = Uint32Arg(info, 1, "port");
    if (info.Length() < 3 || !info[2].IsBuffer()) throw Napi::TypeError::New(env, "buffer must be a Buffer");
    if (info.Length() < 4 || !info[3].IsFunction()) throw Napi::TypeError::New(env, "onEvent must be a function");
    auto buffer = info[2].As<Napi::Buffer<uint8_t>>();
    if (buffer.Length() < NLMSG_HDRLEN) throw Napi::RangeError::New(env, "buffer is too small for a netlink header");
    // Held for the socket's life, so the memory read into stays where it is.
    buffer_ref_ = Napi::Persistent(buffer);
    data_ = buffer.Data();
    size_ = buffer.Length();
    callback_ = Napi::Persistent(info[3].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "kvmnet:NetlinkSocket");
    Guard(env, [&] {
      int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
      if (fd < 0) ThrowErrno("socket", nullptr, "socket(AF_NETLINK)");
      sockaddr_nl addr{};
      addr.nl_family = AF_NETLINK;
      addr.nl_pid = port;
      if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        int err = errno;
        ::close(fd);
        errno = err;
        ThrowErrno("bind", nullptr, "bind(AF_NETLINK)");
      }
      fd_ = fd;
    });
  }

  ~NetlinkSocket() override { Shut(); }

 private:
  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

  void Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) throw Napi::Error::New(env, "netlink socket is closed");
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
    // Kept alive while it reads: the JS side may hold it only through its callback.
    Ref();
  }

  // send(buffers): one datagram of the Buffers in order; 0, or the errno of a failed sendmsg. Synchronous:
  // the kernel carries out a request inside sendmsg, and a socket to the kernel never has to wait for room.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) return Napi::Number::New(env, EBADF);
    if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "buffers must be an array of Buffers");
    auto array = info[0].As<Napi::Array>();
    uint32_t n = array.Length();
    iov_.resize(n);
    for (uint32_t i = 0; i < n; i++) {
      Napi::Value v = array.Get(i);
      if (!v.IsBuffer()) throw Napi::TypeError::New(env, "buffers must be an array of Buffers");
      auto b = v.As<Napi::Buffer<uint8_t>>();
      iov_[i].iov_base = b.Data();
      iov_[i].iov_len = b.Length();
    }
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    msghdr msg{};
    msg.msg_name = &kernel;
    msg.msg_namelen = sizeof kernel;
    msg.msg_iov = iov_.data();
    msg.msg_iovlen = n;
    ssize_t sent;
    do {
      sent = ::sendmsg(fd_, &msg, 0);
    } while (sent < 0 && errno == EINTR);
    return Napi::Number::New(env, sent < 0 ? errno : 0);
  }

  void RefLoop(const Napi::CallbackInfo&) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  void UnrefLoop(const Napi::CallbackInfo&) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }

  void Close(const Napi::CallbackInfo&) {
    bool reading = poll_ != nullptr;
    Shut();
    if (reading) Unref();
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
    // Strong references are GC roots: the callback's closure holds the JS socket, which holds this object's
    // wrapper, so kept past close they made every closed socket live for good. Nothing is read after close.
    callback_.Reset();
    buffer_ref_.Reset();
    data_ = nullptr;
    size_ = 0;
  }

  static void FreePoll(uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<NetlinkSocket*>(handle->data);
    Napi::HandleScope scope(self->Env());
    if (status < 0) {
      // EPOLLERR: the socket's pending error, read (and so cleared) here. libuv stopped the poll.
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == ENOBUFS || err == 0)
        self->Emit(kOverrun, 0);
      else
        self->Emit(kError, err);
      if (self->poll_ != handle) return;  // closed by the callback
      if (int e = uv_poll_start(handle, UV_READABLE, OnPoll)) {
        self->Emit(kError, -e);
        return;
      }
      events = UV_READABLE;
    }
    if (events & UV_READABLE) self->Drain(handle);
  }

  void Drain(uv_poll_t* handle) {
    for (int i = 0; i < kPerWakeup && poll_ == handle; i++) {
      ssize_t n = ::recv(fd_, data_, size_, MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == ENOBUFS) {
          Emit(kOverrun, 0);
          continue;
        }
        Emit(kError, errno);
        return;
      }
      if (static_cast<size_t>(n) > size_) {
        Emit(kTruncated, static_cast<double>(n));
        continue;
      }
      Emit(kMessage, static_cast<double>(n));
    }
  }

  void Emit(EventKind kind, double n) {
    if (callback_.IsEmpty()) return;
    Napi::Env env = Env();
    napi_value args[2];
    napi_create_int32(env, kind, &args[0]);
    napi_create_double(env, n, &args[1]);
    try {
      callback_.MakeCallback(Value(), 2, args, *context_);
    } catch (const Napi::Error& e) {
      // Thrown by the JS callback: Node's uncaughtException, never an exception through libuv.
      napi_fatal_exception(env, e.Value());
    }
  }

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  Napi::Reference<Napi::Buffer<uint8_t>> buffer_ref_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::vector<iovec> iov_;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

}  // namespace

void InitNetlinkSocket(Napi::Env env, Napi::Object exports) { exports.Set("NetlinkSocket", NetlinkSocket::Define(env)); }

}  // namespace kvmnet
