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
#include <sys/uio.h>

#include <vector>

#include "args.h"
#include "netlink_polled.h"

namespace kvmnet {

namespace {

enum EventKind { kMessage = 0, kTruncated = 1, kOverrun = 2, kError = 3 };

class NetlinkSocket : public PolledNetlink<NetlinkSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NetlinkSocket",
                       {
                           InstanceAccessor("fd", &NetlinkSocket::Fd, nullptr),
                           InstanceMethod("start", &NetlinkSocket::Start),
                           InstanceMethod<&NetlinkSocket::Send>("send"),
                           InstanceMethod("ref", &NetlinkSocket::RefLoop),
                           InstanceMethod("unref", &NetlinkSocket::UnrefLoop),
                           InstanceMethod("close", &NetlinkSocket::Close),
                       });
  }

  explicit NetlinkSocket(const Napi::CallbackInfo& info) : PolledNetlink<NetlinkSocket>(info) {
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
    OpenBound(env, protocol, port);
  }

  ~NetlinkSocket() override { Shut(); }

 private:
  friend class PolledNetlink<NetlinkSocket>;
  static constexpr int kPerWakeup = 64;

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

  // PolledNetlink's hooks: the callback is told what arrived and how long it is; the JS side reads buffer.
  uint8_t* RecvData() { return data_; }
  size_t RecvSize() { return size_; }
  void OnOverrun() { Emit(kOverrun, 0); }
  void OnTruncated(size_t n) { Emit(kTruncated, static_cast<double>(n)); }
  void OnFailure(int err, const char*) { Emit(kError, err); }
  void OnDatagram(size_t n) { Emit(kMessage, static_cast<double>(n)); }
  void ReleaseJs() {
    callback_.Reset();
    buffer_ref_.Reset();
    data_ = nullptr;
    size_ = 0;
  }

  void Emit(EventKind kind, double n) {
    napi_value args[2];
    napi_create_int32(Env(), kind, &args[0]);
    napi_create_double(Env(), n, &args[1]);
    Call(callback_, *context_, 2, args);
  }

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
