#include "fleetsim/timers.h"

namespace purser::fleetsim {

Timers::Timers(int pool_threads) : pool_(pool_threads), thread_([this] { Loop(); }) {}

Timers::~Timers() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void Timers::After(absl::Duration d, std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  due_.emplace(absl::Now() + d, std::move(fn));
}

void Timers::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    absl::Time next = due_.empty() ? absl::Now() + absl::Milliseconds(50) : due_.begin()->first;
    mu_.AwaitWithDeadline(absl::Condition(&stopping_),
                          std::min(next, absl::Now() + absl::Milliseconds(50)));
    absl::Time now = absl::Now();
    while (!due_.empty() && due_.begin()->first <= now) {
      pool_.Submit(std::move(due_.begin()->second));
      due_.erase(due_.begin());
    }
  }
}

}  // namespace purser::fleetsim
