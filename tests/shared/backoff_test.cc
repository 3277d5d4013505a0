#include "shared/backoff.h"

#include <gtest/gtest.h>

namespace purser {
namespace {

TEST(Backoff, DoublesWithJitterUpToTheCap) {
  Backoff b(100, 1000);
  int64_t bases[] = {100, 200, 400, 800, 1000, 1000};
  for (int64_t base : bases) {
    int64_t d = b.NextDelayMs();
    EXPECT_GE(d, base / 2);
    EXPECT_LE(d, base);
  }
  b.Reset();
  EXPECT_LE(b.NextDelayMs(), 100);
}

TEST(Backoff, SpreadsAFleet) {
  // A thousand agents losing the server together do not come back together.
  int64_t lo = 1 << 30, hi = 0;
  for (int i = 0; i < 1000; ++i) {
    Backoff b(10'000, 60'000);
    int64_t d = b.NextDelayMs();
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_GT(hi - lo, 3'000);
}

}  // namespace
}  // namespace purser
