// TUN/TAP devices for guests. The device is created in the network namespace /dev/net/tun was opened
// in, so the open (not the ioctls) is what happens inside the target namespace. A batch shares one
// namespace switch and is all-or-nothing: on a failure, the devices made earlier in it are undone.
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>

#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "exports.h"
#include "scoped_netns.h"
#include "unique_fd.h"

namespace kvmnet {

namespace {

constexpr uint32_t kMaxQueues = 256;  // MAX_TAP_QUEUES in drivers/net/tun.c

struct TapSpec {
  std::string name;  // may hold one %d, filled in by the kernel
  bool tun = false;
  uint32_t queues = 1;
  bool vnetHdr = false;
  bool persist = false;
  bool hasOwner = false;
  uid_t owner = 0;
  bool hasGroup = false;
  gid_t group = 0;
};

struct Tap {
  std::string name;
  std::vector<UniqueFd> fds;
  bool persisted = false;  // this call made it persistent, so undoing must clear the flag again
  bool adopted = false;    // it was already a persistent device: never ours to remove
};

[[noreturn]] void BadSpec(Napi::Env env, const std::string& where, const char* what) {
  throw Napi::TypeError::New(env, where + what);
}

TapSpec ParseSpec(Napi::Env env, Napi::Value value, const std::string& where) {
  if (!value.IsObject()) BadSpec(env, where, "opts must be an object");
  Napi::Object o = value.As<Napi::Object>();
  TapSpec spec;
  Napi::Value name = o.Get("name");
  if (!name.IsString()) BadSpec(env, where, "name must be a string");
  spec.name = name.As<Napi::String>().Utf8Value();
  if (spec.name.empty() || spec.name.size() >= IFNAMSIZ || spec.name.find('\0') != std::string::npos)
    BadSpec(env, where, "name must be 1 to 15 bytes");

  Napi::Value mode = o.Get("mode");
  if (!mode.IsUndefined()) {
    std::string m = mode.IsString() ? mode.As<Napi::String>().Utf8Value() : "";
    if (m != "tap" && m != "tun") BadSpec(env, where, "mode must be 'tap' or 'tun'");
    spec.tun = m == "tun";
  }
  Napi::Value queues = o.Get("queues");
  if (!queues.IsUndefined()) {
    double q = queues.IsNumber() ? queues.As<Napi::Number>().DoubleValue() : 0;
    if (q < 1 || q > kMaxQueues || static_cast<uint32_t>(q) != q)
      BadSpec(env, where, "queues must be an integer from 1 to 256");
    spec.queues = static_cast<uint32_t>(q);
  }
  auto flag = [&](const char* key, bool& out) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined()) return;
    if (!v.IsBoolean()) BadSpec(env, where, (std::string(key) + " must be a boolean").c_str());
    out = v.As<Napi::Boolean>().Value();
  };
  flag("vnetHdr", spec.vnetHdr);
  flag("persist", spec.persist);
  auto id = [&](const char* key, bool& has, uint32_t& out) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return;
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    // (uid_t)-1 means "unset" to the kernel, so it is not a usable id.
    if (d < 0 || d >= 4294967295.0 || static_cast<uint32_t>(d) != d)
      BadSpec(env, where, (std::string(key) + " must be an id from 0 to 4294967294").c_str());
    has = true;
    out = static_cast<uint32_t>(d);
  };
  id("owner", spec.hasOwner, spec.owner);
  id("group", spec.hasGroup, spec.group);
  return spec;
}

void Ioctl(int fd, unsigned long request, unsigned long arg, const std::string& name, const char* op) {
  if (::ioctl(fd, request, arg) != 0) ThrowErrno("ioctl", name, op);
}

// Best effort on the way out of a failure: the device goes away once it is not persistent and its last
// queue fd is closed.
void Undo(Tap& tap) noexcept {
  if (tap.persisted && !tap.fds.empty()) ::ioctl(tap.fds.front().get(), TUNSETPERSIST, 0UL);
  tap.persisted = false;
  tap.fds.clear();
}

Tap CreateOne(const TapSpec& spec) {
  Tap tap;
  tap.name = spec.name;
  short flags = (spec.tun ? IFF_TUN : IFF_TAP) | IFF_NO_PI;
  if (spec.vnetHdr) flags |= IFF_VNET_HDR;
  if (spec.queues > 1) flags |= IFF_MULTI_QUEUE;
  try {
    for (uint32_t q = 0; q < spec.queues; ++q) {
      UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
      if (!fd.valid()) ThrowErrno("open", "/dev/net/tun");
      ifreq ifr{};
      memcpy(ifr.ifr_name, tap.name.data(), tap.name.size());
      // The first queue with IFF_TUN_EXCL: it succeeds only by creating the device, which is then
      // known to be new without asking (a TUNGETIFF per tap, each one more ioctl under the RTNL lock).
      ifr.ifr_flags = static_cast<short>(q == 0 ? flags | IFF_TUN_EXCL : flags);
      bool created = q == 0 && ::ioctl(fd.get(), TUNSETIFF, &ifr) == 0;
      if (!created) {
        if (q == 0 && errno != EBUSY) ThrowErrno("ioctl", tap.name, "ioctl(TUNSETIFF)");
        // There already (EBUSY), or a further queue: each further TUNSETIFF with the same name and
        // IFF_MULTI_QUEUE attaches one more queue.
        ifr.ifr_flags = flags;
        if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) ThrowErrno("ioctl", tap.name, "ioctl(TUNSETIFF)");
      }
      tap.name = std::string(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
      tap.fds.push_back(std::move(fd));
      if (q != 0) continue;
      int first = tap.fds.front().get();
      // TUNSETIFF on the name of an existing persistent device attaches to it. Such a device belongs to
      // someone else (an earlier run, an admin): a rollback must leave it as it was.
      if (created) {
        tap.adopted = false;
      } else {
        ifreq got{};
        if (::ioctl(first, TUNGETIFF, &got) != 0) ThrowErrno("ioctl", tap.name, "ioctl(TUNGETIFF)");
        tap.adopted = (got.ifr_flags & IFF_PERSIST) != 0;
      }
      if (spec.hasOwner) Ioctl(first, TUNSETOWNER, spec.owner, tap.name, "ioctl(TUNSETOWNER)");
      if (spec.hasGroup) Ioctl(first, TUNSETGROUP, spec.group, tap.name, "ioctl(TUNSETGROUP)");
      if (spec.persist && !tap.adopted) {
        Ioctl(first, TUNSETPERSIST, 1UL, tap.name, "ioctl(TUNSETPERSIST)");
        tap.persisted = true;
      }
    }
  } catch (...) {
    Undo(tap);
    throw;
  }
  return tap;
}

Napi::Object ToJs(Napi::Env env, Tap& tap) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("name", Napi::String::New(env, tap.name));
  out.Set("persistent", Napi::Boolean::New(env, tap.persisted || tap.adopted));
  Napi::Array fds = Napi::Array::New(env, tap.fds.size());
  for (size_t i = 0; i < tap.fds.size(); ++i) fds.Set(static_cast<uint32_t>(i), Napi::Number::New(env, tap.fds[i].release()));
  out.Set("fds", fds);
  return out;
}

}  // namespace

Napi::Value TapCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string nsPath = OptionalPathArg(info, 0, "nsPath");
  TapSpec spec = ParseSpec(env, info.Length() > 1 ? info[1] : env.Undefined(), "");
  Tap tap = Guard(env, [&] {
    ScopedNetns inside(nsPath);
    return CreateOne(spec);
  });
  return ToJs(env, tap);
}

Napi::Value TapCreateMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string nsPath = OptionalPathArg(info, 0, "nsPath");
  if (info.Length() < 2 || !info[1].IsArray()) throw Napi::TypeError::New(env, "opts must be an array");
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<TapSpec> specs;
  for (uint32_t i = 0; i < list.Length(); ++i)
    specs.push_back(ParseSpec(env, list.Get(i), "opts[" + std::to_string(i) + "]: "));

  std::vector<Tap> taps;
  size_t index = 0;
  bool entered = false;
  try {
    ScopedNetns inside(nsPath);
    entered = true;
    for (; index < specs.size(); ++index) taps.push_back(CreateOne(specs[index]));
  } catch (const SysFailure& f) {
    for (Tap& tap : taps) Undo(tap);
    // A failure to enter the namespace is not about any item.
    bool aboutItem = entered && index < specs.size();
    std::string prefix = aboutItem ? "tap " + std::to_string(index) + " (" + specs[index].name + "): " : "";
    Napi::Error error = ToJsError(env, f, prefix);
    if (aboutItem) error.Value().Set("index", Napi::Number::New(env, static_cast<double>(index)));
    throw error;
  }
  Napi::Array out = Napi::Array::New(env, taps.size());
  for (size_t i = 0; i < taps.size(); ++i) out.Set(static_cast<uint32_t>(i), ToJs(env, taps[i]));
  return out;
}

}  // namespace kvmnet
