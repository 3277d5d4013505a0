#include "server/waiters.h"

#include <atomic>

namespace purser::server {

WaitTicket Waiters::NewTicket() {
  static std::atomic<WaitTicket> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

Waiters::Added Waiters::Add(WaitTicket t, WaitReactor* r, const std::string& endpoint,
                            int64_t deadline_ms) {
  absl::MutexLock lock(&mu_);
  Added out;
  if (closed_ || cancelled_.erase(t) > 0) return out;
  auto it = by_endpoint_.find(endpoint);
  if (it != by_endpoint_.end()) out.replaced = EraseLocked(it->second);
  entries_.emplace(t, Entry{r, endpoint, deadline_ms});
  by_endpoint_[endpoint] = t;
  by_deadline_.emplace(deadline_ms, t);
  out.registered = true;
  return out;
}

WaitReactor* Waiters::Cancel(WaitTicket t) {
  absl::MutexLock lock(&mu_);
  if (WaitReactor* r = EraseLocked(t)) return r;
  cancelled_.insert(t);
  return nullptr;
}

void Waiters::Forget(WaitTicket t) {
  absl::MutexLock lock(&mu_);
  cancelled_.erase(t);
}

void Waiters::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

WaitReactor* Waiters::EraseLocked(WaitTicket t) {
  auto it = entries_.find(t);
  if (it == entries_.end()) return nullptr;
  WaitReactor* r = it->second.reactor;
  by_deadline_.erase({it->second.deadline_ms, t});
  auto e = by_endpoint_.find(it->second.endpoint);
  if (e != by_endpoint_.end() && e->second == t) by_endpoint_.erase(e);
  entries_.erase(it);
  return r;
}

WaitReactor* Waiters::Take(WaitTicket t) {
  absl::MutexLock lock(&mu_);
  return EraseLocked(t);
}

void Waiters::ShortenDeadline(WaitTicket t, int64_t deadline_ms) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(t);
  if (it == entries_.end() || it->second.deadline_ms <= deadline_ms) return;
  by_deadline_.erase({it->second.deadline_ms, t});
  it->second.deadline_ms = deadline_ms;
  by_deadline_.emplace(deadline_ms, t);
}

WaitReactor* Waiters::TakeEndpoint(const std::string& endpoint) {
  absl::MutexLock lock(&mu_);
  auto it = by_endpoint_.find(endpoint);
  if (it == by_endpoint_.end()) return nullptr;
  return EraseLocked(it->second);
}

std::vector<WaitReactor*> Waiters::TakeExpired(int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  std::vector<WaitReactor*> out;
  while (!by_deadline_.empty() && by_deadline_.begin()->first <= now_ms) {
    out.push_back(EraseLocked(by_deadline_.begin()->second));
  }
  return out;
}

std::vector<WaitReactor*> Waiters::TakeAll() { return TakeExpired(INT64_MAX); }

std::vector<std::string> Waiters::Endpoints() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  out.reserve(by_endpoint_.size());
  for (const auto& [endpoint, t] : by_endpoint_) out.push_back(endpoint);
  return out;
}

size_t Waiters::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace purser::server
