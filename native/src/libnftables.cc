#include "libnftables.h"

#include <dlfcn.h>

#include <atomic>

namespace kvmnet {

namespace {

std::atomic<const NftLib*> loaded{nullptr};
std::mutex load_mutex;

template <typename T>
bool Resolve(void* handle, const char* name, T* out, std::string* error) {
  void* sym = ::dlsym(handle, name);
  if (!sym) {
    const char* e = ::dlerror();
    *error = e ? e : std::string("undefined symbol: ") + name;
    return false;
  }
  *out = reinterpret_cast<T>(sym);
  return true;
}

}  // namespace

const NftLib* LoadNftLib(const std::string& path, std::string* error) {
  std::lock_guard<std::mutex> lock(load_mutex);
  // RTLD_LOCAL: its symbols stay out of the global namespace (they cannot clash with anything in Node).
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* e = ::dlerror();
    *error = e ? e : "dlopen " + path + " failed";
    return nullptr;
  }
  if (const NftLib* lib = loaded.load()) {
    // Already resolved from an earlier load: drop this extra reference and keep using that one.
    ::dlclose(handle);
    return lib;
  }
  auto* lib = new NftLib{};
  bool ok = Resolve(handle, "nft_ctx_new", &lib->ctx_new, error) &&
            Resolve(handle, "nft_ctx_free", &lib->ctx_free, error) &&
            Resolve(handle, "nft_ctx_output_set_flags", &lib->output_set_flags, error) &&
            Resolve(handle, "nft_ctx_buffer_output", &lib->buffer_output, error) &&
            Resolve(handle, "nft_ctx_buffer_error", &lib->buffer_error, error) &&
            Resolve(handle, "nft_ctx_get_output_buffer", &lib->get_output_buffer, error) &&
            Resolve(handle, "nft_ctx_get_error_buffer", &lib->get_error_buffer, error) &&
            Resolve(handle, "nft_run_cmd_from_buffer", &lib->run_cmd_from_buffer, error);
  if (!ok) {
    delete lib;
    ::dlclose(handle);
    return nullptr;
  }
  // Never unloaded (nor freed): worker threads may still be inside it when the process exits.
  loaded.store(lib);
  return lib;
}

const NftLib* LoadedNftLib() { return loaded.load(); }

std::mutex& NftLibMutex() {
  // Leaked on purpose: no static destructor may run while a worker thread still holds it at exit.
  static std::mutex* m = new std::mutex();
  return *m;
}

}  // namespace kvmnet
