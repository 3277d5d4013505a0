// Capped exponential backoff with full jitter, so a fleet that lost the server
// does not come back in lockstep.
#pragma once
#include <cstdint>

#include "absl/random/random.h"

namespace purser {

class Backoff {
 public:
  Backoff(int64_t initial_ms, int64_t max_ms) : initial_ms_(initial_ms), max_ms_(max_ms) {}
  // The next delay: uniform in [base/2, base], base doubling up to max.
  int64_t NextDelayMs();
  void Reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }

 private:
  int64_t initial_ms_;
  int64_t max_ms_;
  int attempt_ = 0;
  absl::BitGen gen_;
};

}  // namespace purser
