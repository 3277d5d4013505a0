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
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace purser::server {

class WaitReactor;  // defined by the agent service

using WaitTicket = uint64_t;

class Waiters {
 public:
  // A ticket no other waiter of this process has had.
  static WaitTicket NewTicket();
  struct Added {
    bool registered = false;          // false: cancelled or closing; the caller keeps `r`
    WaitReactor* replaced = nullptr;  // the endpoint's previous waiter, taken out
  };
  // Registers `r` (ticket `t`) for `endpoint` until `deadline_ms`. Once
  // registered, the caller must not touch `r` unless Take(t) gives it back.
  // Not registered when `t` was cancelled before (Cancel) or after Close.
  Added Add(WaitTicket t, WaitReactor* r, const std::string& endpoint, int64_t deadline_ms);
  // The call of `t` was cancelled: takes it out if registered; otherwise
  // remembers it, so that a later Add refuses it instead of parking a dead call.
  WaitReactor* Cancel(WaitTicket t);
  // The call of `t` is done: nothing about it needs remembering.
  void Forget(WaitTicket t);
  // No waiter is registered from now on (the server is stopping).
  void Close();
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
  absl::flat_hash_set<WaitTicket> cancelled_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, WaitTicket> by_endpoint_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<int64_t, WaitTicket>> by_deadline_ ABSL_GUARDED_BY(mu_);
};

}  // namespace purser::server
