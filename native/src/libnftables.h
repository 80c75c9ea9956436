// libnftables (the official nftables library, Debian libnftables1), loaded at run time with dlopen so that
// the addon has no link-time dependency on it: a host without it still loads kvmnet (which then runs the
// nft program instead), and the cross builds need no arm64 copy of the library. Only the few functions
// kvmnet calls are declared here, with the prototypes of <nftables/libnftables.h> (stable since 0.9).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

namespace kvmnet {

struct nft_ctx;

struct NftLib {
  nft_ctx* (*ctx_new)(uint32_t flags);
  void (*ctx_free)(nft_ctx* ctx);
  void (*output_set_flags)(nft_ctx* ctx, unsigned int flags);
  int (*buffer_output)(nft_ctx* ctx);
  int (*buffer_error)(nft_ctx* ctx);
  const char* (*get_output_buffer)(nft_ctx* ctx);
  const char* (*get_error_buffer)(nft_ctx* ctx);
  int (*run_cmd_from_buffer)(nft_ctx* ctx, const char* buf);
};

// NFT_CTX_DEFAULT: a context with its own netlink socket, opened by nft_ctx_new in the calling thread's
// network namespace. NFT_CTX_OUTPUT_JSON: what `nft -j` sets; it is also what makes nft_run_cmd_from_buffer
// parse its input as JSON (libnftables 1.0.6 has no separate input flag).
constexpr uint32_t kNftCtxDefault = 0;
constexpr unsigned int kNftCtxOutputJson = 1u << 4;

// Loads the library at `path` (a soname such as "libnftables.so.1", or a file) and resolves the functions
// above. Returns nullptr with *error set (dlerror's text) when it cannot. The first library loaded stays
// loaded for the life of the process; a later call that succeeds returns that same one.
const NftLib* LoadNftLib(const std::string& path, std::string* error);

// The library loaded by LoadNftLib, or nullptr.
const NftLib* LoadedNftLib();

// libnftables keeps process-wide state (its one-time GMP/xtables set-up in nft_ctx_new, the interface
// cache every run releases), so no two threads may be inside it at once: every call holds this mutex.
std::mutex& NftLibMutex();

}  // namespace kvmnet
