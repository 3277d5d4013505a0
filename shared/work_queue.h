// A fixed pool of threads for work that may block (store calls), so that gRPC
// reactions never block: they queue here and Finish from a pool thread.
#pragma once
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace purser {

class WorkQueue {
 public:
  // `max_queued` bounds what TrySubmit accepts (0: no bound).
  explicit WorkQueue(int threads, size_t max_queued = 0);
  // Runs every queued task, then joins.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Always queues: for work that must run (a call already admitted going on).
  void Submit(std::function<void()> task);
  // Queues new work (a new call) unless `max_queued` tasks already wait: then
  // false, and the caller refuses the call instead of growing without bound.
  bool TrySubmit(std::function<void()> task);
  size_t queued() const;

 private:
  void Loop();
  const size_t max_queued_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace purser
