// What kvmnet's two netlink sockets read on the Node event loop share (netlink_listener.cc: multicast
// notifications; netlink_socket.cc: rtnetlink requests and their replies): a non-blocking AF_NETLINK socket,
// a uv_poll handle that reads it, the JS object kept alive while it reads, an overflow (ENOBUFS) reported as
// an event and never as an exception through libuv, and a close that may come from inside a callback.
//
// T (CRTP) provides: OnOverrun(), OnFailure(err, op), OnDatagram(n), OnTruncated(n) — each may close the
// socket — RecvData()/RecvSize() (where a datagram is read), ReleaseJs() (drops its references at close),
// and kPerWakeup (datagrams read per wake-up: the poll is level-triggered, so the rest is read on the next
// turn of the loop and a flood cannot starve everything else).
#ifndef KVMNET_NETLINK_POLLED_H_
#define KVMNET_NETLINK_POLLED_H_

#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <memory>

#include "errors.h"
#include "exports.h"

namespace kvmnet {

template <class T>
class PolledNetlink : public Napi::ObjectWrap<T> {
 public:
  explicit PolledNetlink(const Napi::CallbackInfo& info) : Napi::ObjectWrap<T>(info) {}

 protected:
  // Opens the socket in the calling thread's namespace, bound to `port` (0: the kernel picks one); the
  // port it got. A bind refused (EADDRINUSE for a port taken) is thrown with its errno.
  uint32_t OpenBound(Napi::Env env, int protocol, uint32_t port) {
    sockaddr_nl addr{};
    Guard(env, [&] {
      int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
      if (fd < 0) ThrowErrno("socket", nullptr, "socket(AF_NETLINK)");
      addr.nl_family = AF_NETLINK;
      addr.nl_pid = port;
      socklen_t len = sizeof addr;
      if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        int err = errno;
        ::close(fd);
        errno = err;
        ThrowErrno("bind", nullptr, "bind(AF_NETLINK)");
      }
      fd_ = fd;
    });
    return addr.nl_pid;
  }

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
    this->Ref();
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
    if (reading) this->Unref();
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
    // Strong references are GC roots: the callback's closure holds the JS side, which holds this object's
    // wrapper, so kept past close they made every closed socket live for good. Nothing is read after close.
    self()->ReleaseJs();
  }

  // Calls the JS callback; an exception it throws becomes Node's uncaughtException, never one through libuv.
  void Call(Napi::FunctionReference& callback, Napi::AsyncContext& context, size_t argc, const napi_value* argv) {
    if (callback.IsEmpty()) return;
    try {
      callback.MakeCallback(this->Value(), argc, argv, context);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(this->Env(), e.Value());
    }
  }

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;

 private:
  T* self() { return static_cast<T*>(this); }

  static void FreePoll(uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* base = static_cast<PolledNetlink*>(handle->data);
    Napi::HandleScope scope(base->Env());
    if (status < 0) {
      // EPOLLERR: the socket's pending error, read (and so cleared) here. libuv stopped the poll.
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(base->fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == ENOBUFS || err == 0)
        base->self()->OnOverrun();
      else
        base->self()->OnFailure(err, "getsockopt(SO_ERROR)");
      if (base->poll_ != handle) return;  // closed by the callback
      if (int e = uv_poll_start(handle, UV_READABLE, OnPoll)) {
        base->self()->OnFailure(-e, "uv_poll_start");
        return;
      }
      events = UV_READABLE;
    }
    if (events & UV_READABLE) base->Drain(handle);
  }

  void Drain(uv_poll_t* handle) {
    for (int i = 0; i < T::kPerWakeup && poll_ == handle; i++) {
      size_t size = self()->RecvSize();
      ssize_t n = ::recv(fd_, self()->RecvData(), size, MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == ENOBUFS) {
          self()->OnOverrun();
          continue;
        }
        self()->OnFailure(errno, "recv");
        return;
      }
      if (static_cast<size_t>(n) > size)
        self()->OnTruncated(static_cast<size_t>(n));
      else
        self()->OnDatagram(static_cast<size_t>(n));
    }
  }
};

}  // namespace kvmnet

#endif  // KVMNET_NETLINK_POLLED_H_
