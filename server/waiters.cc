#include "server/waiters.h"

namespace purser::server {

WaitReactor* Waiters::Add(WaitReactor* r, const std::string& endpoint, int64_t deadline_ms) {
  absl::MutexLock lock(&mu_);
  WaitReactor* old = nullptr;
  auto it = by_endpoint_.find(endpoint);
  if (it != by_endpoint_.end()) {
    old = it->second;
    EraseLocked(old, entries_.at(old));
  }
  entries_.emplace(r, Entry{endpoint, deadline_ms});
  by_endpoint_[endpoint] = r;
  by_deadline_.emplace(deadline_ms, r);
  return old;
}

void Waiters::EraseLocked(WaitReactor* r, const Entry& e) {
  by_deadline_.erase({e.deadline_ms, r});
  auto it = by_endpoint_.find(e.endpoint);
  if (it != by_endpoint_.end() && it->second == r) by_endpoint_.erase(it);
  entries_.erase(r);
}

bool Waiters::Take(WaitReactor* r) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(r);
  if (it == entries_.end()) return false;
  Entry e = it->second;
  EraseLocked(r, e);
  return true;
}

void Waiters::ShortenDeadline(WaitReactor* r, int64_t deadline_ms) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(r);
  if (it == entries_.end() || it->second.deadline_ms <= deadline_ms) return;
  by_deadline_.erase({it->second.deadline_ms, r});
  it->second.deadline_ms = deadline_ms;
  by_deadline_.emplace(deadline_ms, r);
}

WaitReactor* Waiters::TakeEndpoint(const std::string& endpoint) {
  absl::MutexLock lock(&mu_);
  auto it = by_endpoint_.find(endpoint);
  if (it == by_endpoint_.end()) return nullptr;
  WaitReactor* r = it->second;
  Entry e = entries_.at(r);
  EraseLocked(r, e);
  return r;
}

std::vector<WaitReactor*> Waiters::TakeExpired(int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  std::vector<WaitReactor*> out;
  while (!by_deadline_.empty() && by_deadline_.begin()->first <= now_ms) {
    WaitReactor* r = by_deadline_.begin()->second;
    Entry e = entries_.at(r);
    EraseLocked(r, e);
    out.push_back(r);
  }
  return out;
}

std::vector<WaitReactor*> Waiters::TakeAll() { return TakeExpired(INT64_MAX); }

std::vector<std::string> Waiters::Endpoints() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  out.reserve(by_endpoint_.size());
  for (const auto& [endpoint, r] : by_endpoint_) out.push_back(endpoint);
  return out;
}

size_t Waiters::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace purser::server
