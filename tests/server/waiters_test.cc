#include "server/waiters.h"

#include <gtest/gtest.h>

namespace purser::server {
namespace {

// Waiters only stores pointers; these tests never dereference them.
WaitReactor* R(uintptr_t n) { return reinterpret_cast<WaitReactor*>(n * 16); }

TEST(Waiters, EachWaiterIsTakenOnce) {
  Waiters w;
  WaitTicket t = Waiters::NewTicket();
  EXPECT_TRUE(w.Add(t, R(1), "e1", 1000).registered);
  EXPECT_EQ(w.Take(t), R(1));
  EXPECT_EQ(w.Take(t), nullptr);
  EXPECT_EQ(w.size(), 0u);
}

// A finished waiter's memory is reused for the next long poll (of another
// endpoint): whoever still holds the old ticket must not get the new waiter.
TEST(Waiters, AStaleTicketNeverTakesAWaiterAtAReusedAddress) {
  Waiters w;
  WaitTicket first = Waiters::NewTicket();
  w.Add(first, R(1), "e1", 1000);
  EXPECT_EQ(w.TakeExpired(1000), std::vector<WaitReactor*>{R(1)});
  WaitTicket second = Waiters::NewTicket();
  EXPECT_NE(first, second);
  w.Add(second, R(1), "e2", 2000);
  EXPECT_EQ(w.Take(first), nullptr);
  w.ShortenDeadline(first, 0);
  EXPECT_TRUE(w.TakeExpired(1500).empty());
  EXPECT_EQ(w.TakeEndpoint("e2"), R(1));
}

TEST(Waiters, ANewPollReplacesTheEndpointsOldOne) {
  Waiters w;
  WaitTicket t1 = Waiters::NewTicket(), t2 = Waiters::NewTicket();
  w.Add(t1, R(1), "e1", 1000);
  EXPECT_EQ(w.Add(t2, R(2), "e1", 2000).replaced, R(1));
  EXPECT_EQ(w.Take(t1), nullptr);
  EXPECT_EQ(w.TakeEndpoint("e1"), R(2));
  EXPECT_EQ(w.TakeEndpoint("e1"), nullptr);
}

TEST(Waiters, ExpiryInDeadlineOrder) {
  Waiters w;
  WaitTicket a = Waiters::NewTicket(), b = Waiters::NewTicket(), c = Waiters::NewTicket();
  w.Add(a, R(1), "a", 300);
  w.Add(b, R(2), "b", 100);
  w.Add(c, R(3), "c", 200);
  w.ShortenDeadline(a, 150);
  w.ShortenDeadline(b, 500);  // never later
  auto expired = w.TakeExpired(199);
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0], R(2));
  EXPECT_EQ(expired[1], R(1));
  EXPECT_EQ(w.Endpoints(), std::vector<std::string>{"c"});
  EXPECT_EQ(w.TakeAll().size(), 1u);
}

// A poll cancelled while its task was still queued is not parked when the
// task comes to register it (the caller finishes it), nor after Close.
TEST(Waiters, ACancelledOrLatePollIsNotParked) {
  Waiters w;
  WaitTicket t = Waiters::NewTicket();
  EXPECT_EQ(w.Cancel(t), nullptr);  // not registered yet
  EXPECT_FALSE(w.Add(t, R(1), "e1", 1000).registered);
  EXPECT_EQ(w.size(), 0u);
  WaitTicket u = Waiters::NewTicket();
  ASSERT_TRUE(w.Add(u, R(2), "e2", 1000).registered);
  EXPECT_EQ(w.Cancel(u), R(2));  // registered: taken out for the canceller to finish
  w.Forget(u);
  w.Close();
  EXPECT_FALSE(w.Add(Waiters::NewTicket(), R(3), "e3", 1000).registered);
}

}  // namespace
}  // namespace purser::server
