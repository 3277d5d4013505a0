#include "shared/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>

#include "absl/synchronization/notification.h"

namespace purser {
namespace {

// New work is refused past the bound; work already admitted always queues.
TEST(WorkQueue, NewWorkIsRefusedPastTheBound) {
  absl::Notification release;
  std::atomic<int> ran{0};
  {
    WorkQueue q(1, 2);
    ASSERT_TRUE(q.TrySubmit([&] { release.WaitForNotification(); }));
    // The one thread may or may not have taken the blocker yet.
    while (q.queued() > 0) absl::SleepFor(absl::Milliseconds(1));
    EXPECT_TRUE(q.TrySubmit([&] { ++ran; }));
    EXPECT_TRUE(q.TrySubmit([&] { ++ran; }));
    EXPECT_FALSE(q.TrySubmit([&] { ++ran; }));
    q.Submit([&] { ++ran; });  // a continuation: never refused
    EXPECT_EQ(q.queued(), 3u);
    release.Notify();
  }
  EXPECT_EQ(ran.load(), 3);
}

}  // namespace
}  // namespace purser
