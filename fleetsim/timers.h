// Delayed tasks for the fleet: one thread keeps the deadlines; due tasks run
// on a worker pool, so a slow task never delays the others' timers.
#pragma once
#include <functional>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "shared/work_queue.h"

namespace purser::fleetsim {

class Timers {
 public:
  explicit Timers(int pool_threads);
  ~Timers();  // drops pending timers, finishes queued tasks
  void After(absl::Duration d, std::function<void()> fn);
  void Now(std::function<void()> fn) { pool_.Submit(std::move(fn)); }

 private:
  void Loop();
  absl::Mutex mu_;
  std::multimap<absl::Time, std::function<void()>> due_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  WorkQueue pool_;
  std::thread thread_;
};

}  // namespace purser::fleetsim
