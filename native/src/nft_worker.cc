#include "nft_worker.h"

#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "libnftables.h"
#include "unique_fd.h"

namespace kvmnet {

namespace {

// How long a namespace's thread waits for another command before it retires. Long enough for the bursts
// one operation makes (an apply and its read-back, a watch repair), short enough that a deleted namespace
// is not kept alive for long by an idle thread.
constexpr auto kIdle = std::chrono::milliseconds(1000);

// A cache larger than this is given back to the kernel as soon as it is dropped (see Run): more than a
// dozen tables' worth, well below the 50 MB of a hundred.
constexpr size_t kTrimAbove = size_t{8} << 20;

using NsKey = std::pair<dev_t, ino_t>;

struct Job {
  std::string command;
  NftDone done;
};

class NsWorker;

// The live threads by namespace. Leaked on purpose (never destroyed): threads may outlive static
// destruction at process exit.
std::mutex& RegistryMutex() {
  static std::mutex* m = new std::mutex();
  return *m;
}
std::map<NsKey, std::shared_ptr<NsWorker>>& Registry() {
  static auto* r = new std::map<NsKey, std::shared_ptr<NsWorker>>();
  return *r;
}

class NsWorker : public std::enable_shared_from_this<NsWorker> {
 public:
  NsWorker(NsKey key, std::string path) : key_(key), path_(std::move(path)) {}

  // Called with the registry lock held.
  void Push(Job job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

  // Called with the registry lock held, after this worker was removed from the registry.
  void Retire() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      retiring_ = true;
    }
    cv_.notify_one();
  }

  void Start(UniqueFd ns) {
    // The thread keeps its worker alive; the namespace fd is its to use and close.
    std::thread t([self = shared_from_this(), fd = ns.release()]() { self->Run(UniqueFd(fd)); });
    pthread_setname_np(t.native_handle(), "kvmnet-nft");
    t.detach();
  }

 private:
  void Run(UniqueFd ns) {
    // Enter the namespace for good: this thread runs nothing else, and exits instead of coming back.
    int setns_errno = ::setns(ns.get(), CLONE_NEWNET) == 0 ? 0 : errno;
    ns.reset();
    const NftLib* lib = LoadedNftLib();
    nft_ctx* ctx = nullptr;
    while (true) {
      Job job;
      if (!Next(&job)) break;
      NftOutcome out;
      bool trim = false;
      if (setns_errno != 0) {
        out.failed = true;
        out.failure = SysFailure{setns_errno, "setns", path_, ""};
      } else if (!lib) {
        out.failed = true;
        out.failure = SysFailure{ENOSYS, "dlopen", "libnftables", "libnftables not loaded"};
      } else {
        std::lock_guard<std::mutex> lock(NftLibMutex());
        if (!ctx) ctx = NewContext(lib);
        out.rc = lib->run_cmd_from_buffer(ctx, job.command.c_str());
        out.output = lib->get_output_buffer(ctx);
        out.error = lib->get_error_buffer(ctx);
        // Nothing else queued: drop the cache before answering (see DropCache), so that once a caller
        // has its answer the memory is back, whatever it measures next.
        if (QueueEmpty()) {
          size_t held = InUse();
          if (out.rc == 0) {
            DropCache(lib, ctx);
          } else {
            // A failed command may leave a cache that the next one would still trust (the generation
            // did not move): rare, so simply start afresh.
            lib->ctx_free(ctx);
            ctx = nullptr;
          }
          size_t left = InUse();
          trim = held > left && held - left > kTrimAbove;
        }
      }
      // The cache's memory is freed into this thread's glibc arena, which keeps it resident. A large cache
      // is handed back now: beside 100 foreign tables of 3 chains it was 50 MB, and memory is what issue 21
      // asks for (a write took ~40-60 ms with the trim, ~11 ms without). A small one (a few tables, ~0.5 MB
      // each, mostly their hash tables) stays for the next command to reuse: giving it back cost a TLB
      // shootdown across the CPUs per madvise, then the next command faulted it all in again, ~3 ms of
      // CPU and of wall on every one-network `up` (two transactions), all on its path. What stays is given
      // back with the rest once the process rests (src/native/idle-trim.ts).
      if (trim) ::malloc_trim(0);
      job.done(std::move(out));
    }
    if (ctx) {
      std::lock_guard<std::mutex> lock(NftLibMutex());
      lib->ctx_free(ctx);
    }
  }

  // Bytes in use in glibc's arenas, every thread's: around the cache's release, what it held (other
  // threads' allocations in between are noise against kTrimAbove). mallinfo2 walks the arenas' free lists
  // (microseconds); malloc_trim walks them too, and then madvises.
  static size_t InUse() { return ::mallinfo2().uordblks; }

  // A context whose netlink socket is opened here, in the namespace. Called with NftLibMutex held.
  static nft_ctx* NewContext(const NftLib* lib) {
    nft_ctx* ctx = lib->ctx_new(kNftCtxDefault);
    lib->output_set_flags(ctx, kNftCtxOutputJson);
    lib->buffer_output(ctx);
    lib->buffer_error(ctx);
    return ctx;
  }

  // After a command that writes, libnftables keeps the ruleset it fetched for it in the context's cache:
  // every table in the namespace, kvmnet's or not, each with four 8192-bucket hash tables (~0.5 MB a table
  // before its first chain; 50 MB beside 100 tables). That cache is stale as soon as the write commits
  // (the ruleset generation moves), and so is a read's (list commands always refetch): the next command
  // would drop it anyway. An empty command drops it now: libnftables checks the generation before every
  // command and releases a stale (or list) cache, then fetches nothing for a command that needs nothing.
  // Freeing the context would do the same but closes its netlink socket, which costs the kernel an RCU
  // grace period (~10 ms measured) on every apply. Called with NftLibMutex held.
  static void DropCache(const NftLib* lib, nft_ctx* ctx) { lib->run_cmd_from_buffer(ctx, ""); }

  bool QueueEmpty() {
    std::lock_guard<std::mutex> lock(mutex_);
    return queue_.empty();
  }

  // The next job; false when the thread is to exit (retired, or idle with nothing queued).
  bool Next(Job* job) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait_for(lock, kIdle, [this] { return !queue_.empty() || retiring_; });
      if (!queue_.empty()) {
        *job = std::move(queue_.front());
        queue_.pop_front();
        return true;
      }
      if (retiring_) return false;
    }
    // Idle: leave the registry, unless a command arrived meanwhile (same lock order as SubmitNft).
    std::lock_guard<std::mutex> registry(RegistryMutex());
    std::lock_guard<std::mutex> lock(mutex_);
    if (!queue_.empty()) {
      *job = std::move(queue_.front());
      queue_.pop_front();
      return true;
    }
    auto& reg = Registry();
    auto it = reg.find(key_);
    if (it != reg.end() && it->second.get() == this) reg.erase(it);
    return false;
  }

  const NsKey key_;
  const std::string path_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool retiring_ = false;
};

// Opens the namespace file and reads its identity; throws SysFailure.
UniqueFd OpenNs(const std::string& path, NsKey* key) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) ThrowErrno("open", path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) ThrowErrno("fstat", path);
  *key = {st.st_dev, st.st_ino};
  return fd;
}

}  // namespace

void SubmitNft(const std::string& ns_path, std::string command, NftDone done) {
  NsKey key;
  UniqueFd fd = OpenNs(ns_path, &key);
  std::lock_guard<std::mutex> registry(RegistryMutex());
  auto& reg = Registry();
  auto it = reg.find(key);
  if (it == reg.end()) {
    auto worker = std::make_shared<NsWorker>(key, ns_path);
    try {
      worker->Start(std::move(fd));
    } catch (const std::system_error& e) {
      throw SysFailure{e.code().value(), "pthread_create", ns_path, ""};
    }
    it = reg.emplace(key, worker).first;
  }
  it->second->Push(Job{std::move(command), std::move(done)});
}

void RetireNft(const std::string& ns_path) {
  NsKey key;
  try {
    OpenNs(ns_path, &key);
  } catch (const SysFailure&) {
    // The namespace file is gone: its thread, if any, retires by itself once idle.
    return;
  }
  std::lock_guard<std::mutex> registry(RegistryMutex());
  auto& reg = Registry();
  auto it = reg.find(key);
  if (it == reg.end()) return;
  auto worker = it->second;
  reg.erase(it);
  worker->Retire();
}

}  // namespace kvmnet
