// Long-poll registry: agents waiting for work, without a thread each.
// Whoever Take()s a waiter out of the registry owns finishing its RPC; that is
// what makes "exactly one Finish" hold across notify, expiry and cancel.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace purser::server {

class WaitReactor;  // defined by the agent service

class Waiters {
 public:
  // Registers `r` for `endpoint` until `deadline_ms`. Returns a previous
  // waiter of the same endpoint (now taken out), or nullptr.
  WaitReactor* Add(WaitReactor* r, const std::string& endpoint, int64_t deadline_ms);
  // Takes `r` out; false if someone else already did.
  bool Take(WaitReactor* r);
  // Moves `r`'s deadline earlier (a queued job becomes ready then).
  void ShortenDeadline(WaitReactor* r, int64_t deadline_ms);
  // Takes out the waiter of `endpoint`, if any.
  WaitReactor* TakeEndpoint(const std::string& endpoint);
  // Takes out every waiter whose deadline passed.
  std::vector<WaitReactor*> TakeExpired(int64_t now_ms);
  std::vector<WaitReactor*> TakeAll();
  // Endpoints currently holding a long poll (connected).
  std::vector<std::string> Endpoints() const;
  size_t size() const;

 private:
  struct Entry {
    std::string endpoint;
    int64_t deadline_ms;
  };
  void EraseLocked(WaitReactor* r, const Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<WaitReactor*, Entry> entries_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, WaitReactor*> by_endpoint_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<int64_t, WaitReactor*>> by_deadline_ ABSL_GUARDED_BY(mu_);
};

}  // namespace purser::server
