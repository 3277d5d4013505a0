#include "shared/backoff.h"

#include <algorithm>

namespace purser {

int64_t Backoff::NextDelayMs() {
  int64_t base = initial_ms_;
  for (int i = 0; i < attempt_ && base < max_ms_; ++i) base *= 2;
  base = std::min(base, max_ms_);
  ++attempt_;
  return absl::Uniform<int64_t>(absl::IntervalClosed, gen_, base / 2, base);
}

}  // namespace purser
