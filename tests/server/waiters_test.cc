#include "server/waiters.h"

#include <gtest/gtest.h>

namespace purser::server {
namespace {

// Waiters only stores pointers; these tests never dereference them.
WaitReactor* R(uintptr_t n) { return reinterpret_cast<WaitReactor*>(n * 16); }

TEST(Waiters, EachWaiterIsTakenOnce) {
  Waiters w;
  EXPECT_EQ(w.Add(R(1), "e1", 1000), nullptr);
  EXPECT_TRUE(w.Take(R(1)));
  EXPECT_FALSE(w.Take(R(1)));
  EXPECT_EQ(w.size(), 0u);
}

TEST(Waiters, ANewPollReplacesTheEndpointsOldOne) {
  Waiters w;
  w.Add(R(1), "e1", 1000);
  EXPECT_EQ(w.Add(R(2), "e1", 2000), R(1));
  EXPECT_FALSE(w.Take(R(1)));
  EXPECT_EQ(w.TakeEndpoint("e1"), R(2));
  EXPECT_EQ(w.TakeEndpoint("e1"), nullptr);
}

TEST(Waiters, ExpiryInDeadlineOrder) {
  Waiters w;
  w.Add(R(1), "a", 300);
  w.Add(R(2), "b", 100);
  w.Add(R(3), "c", 200);
  w.ShortenDeadline(R(1), 150);
  w.ShortenDeadline(R(2), 500);  // never later
  auto expired = w.TakeExpired(199);
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0], R(2));
  EXPECT_EQ(expired[1], R(1));
  EXPECT_EQ(w.Endpoints(), std::vector<std::string>{"c"});
  EXPECT_EQ(w.TakeAll().size(), 1u);
}

}  // namespace
}  // namespace purser::server
