// Runs libnftables inside a network namespace without ever moving the event loop's thread: each namespace
// kvmnet changes gets a thread of its own that enters it once (setns) and stays there, with one nft context
// reused for every command, as firewalld's nftables backend does, except that its ruleset cache is dropped
// whenever the queue runs dry (it holds every table of the namespace: see nft_worker.cc). The thread is
// never moved anywhere else: when it has had nothing to do for a while, or kvmnet is done with the
// namespace, it frees its context and exits (so it no longer holds the namespace alive), and the next
// command starts a new one.
#pragma once

#include <functional>
#include <string>

#include "errors.h"

namespace kvmnet {

struct NftOutcome {
  // A system call failed before nft could run (entering the namespace): see `failure`.
  bool failed = false;
  SysFailure failure{};
  // nft_run_cmd_from_buffer's return value (0 on success) and what it printed, captured in its buffers.
  int rc = 0;
  std::string output;
  std::string error;
};

// Called on the namespace's thread when the command has run.
using NftDone = std::function<void(NftOutcome&&)>;

// Queues `command` (nft's JSON or text) for the thread of the namespace at `ns_path`, starting that thread
// when there is none. The namespace is identified by its inode, not by its path: a namespace deleted and
// made again under the same name is another namespace. Throws SysFailure when `ns_path` cannot be opened.
void SubmitNft(const std::string& ns_path, std::string command, NftDone done);

// The thread of the namespace at `ns_path` finishes what is queued and exits. Nothing when there is none.
void RetireNft(const std::string& ns_path);

}  // namespace kvmnet
