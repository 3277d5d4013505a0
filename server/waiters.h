// Long-poll registry: agents waiting for work, without a thread each.
// Whoever Take()s a waiter out of the registry owns finishing its RPC; that is
// what makes "exactly one Finish" hold across notify, expiry and cancel.
// Waiters are named by a ticket that is never reused, not by their address:
// once a waiter is registered, another thread may finish and free it at any
// moment, and a new one may be allocated at the same address.
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

using WaitTicket = uint64_t;

class Waiters {
 public:
  // A ticket no other waiter of this process has had.
  static WaitTicket NewTicket();
  // Registers `r` (ticket `t`) for `endpoint` until `deadline_ms`. Returns a
  // previous waiter of the same endpoint (now taken out), or nullptr. After
  // this call the caller must not touch `r` unless Take(t) gives it back.
  WaitReactor* Add(WaitTicket t, WaitReactor* r, const std::string& endpoint, int64_t deadline_ms);
  // Takes waiter `t` out; nullptr if someone else already did.
  WaitReactor* Take(WaitTicket t);
  // Moves `t`'s deadline earlier (a queued job becomes ready then).
  void ShortenDeadline(WaitTicket t, int64_t deadline_ms);
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
    WaitReactor* reactor;
    std::string endpoint;
    int64_t deadline_ms;
  };
  WaitReactor* EraseLocked(WaitTicket t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<WaitTicket, Entry> entries_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, WaitTicket> by_endpoint_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<int64_t, WaitTicket>> by_deadline_ ABSL_GUARDED_BY(mu_);
};

}  // namespace purser::server
