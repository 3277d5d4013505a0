#include "db/sqlite/writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/test_util.h"

namespace purser::db {
namespace {

TEST(Writer, GroupsConcurrentWritesIntoFewTransactions) {
  testing::ScratchDir dir;
  auto conn = Connection::Open(dir.Sub("w.db"), true);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE((*conn)->ExecScript("CREATE TABLE t (v INTEGER)").ok());
  Writer writer(std::move(*conn));
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        absl::Status st = writer.Run([&](Connection& c) {
          auto s = c.Prepare("INSERT INTO t VALUES (?)");
          if (!s.ok()) return s.status();
          return s->Bind(1, static_cast<int64_t>(t * 1000 + i)).Exec();
        });
        EXPECT_TRUE(st.ok()) << st;
      }
    });
  }
  for (auto& th : threads) th.join();
  Writer::Stats stats = writer.stats();
  EXPECT_EQ(stats.writes, 800);
  EXPECT_LT(stats.transactions, stats.writes);
}

TEST(Writer, TellsTheObserverOfEveryGroupCommit) {
  testing::ScratchDir dir;
  auto conn = Connection::Open(dir.Sub("w.db"), true);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE((*conn)->ExecScript("CREATE TABLE t (v INTEGER)").ok());
  std::atomic<int> groups{0}, writes{0};
  std::atomic<bool> timed{true};
  Writer::Stats stats;
  {
    Writer writer(std::move(*conn), Writer::kDefaultMaxGroup, [&](double seconds, int n) {
      groups++;
      writes += n;
      if (!(seconds > 0)) timed = false;
    });
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 20; ++i) {
          EXPECT_TRUE(
              writer.Run([](Connection& c) { return c.ExecScript("INSERT INTO t VALUES (1)"); })
                  .ok());
        }
      });
    }
    for (auto& th : threads) th.join();
    stats = writer.stats();
  }
  EXPECT_EQ(writes.load(), 160);
  EXPECT_EQ(groups.load(), stats.transactions);
  EXPECT_TRUE(timed.load());
}

TEST(Writer, AFailingWriteIsRolledBackAlone) {
  testing::ScratchDir dir;
  std::string path = dir.Sub("w.db");
  {
    auto conn = Connection::Open(path, true);
    ASSERT_TRUE((*conn)->ExecScript("CREATE TABLE t (v INTEGER PRIMARY KEY)").ok());
    Writer writer(std::move(*conn));
    auto insert = [](int64_t v) {
      return [v](Connection& c) -> absl::Status {
        auto s = c.Prepare("INSERT INTO t VALUES (?)");
        if (!s.ok()) return s.status();
        return s->Bind(1, v).Exec();
      };
    };
    EXPECT_TRUE(writer.Run(insert(1)).ok());
    absl::Status dup = writer.Run([&](Connection& c) -> absl::Status {
      auto st = insert(2)(c);  // applied, then undone with the failing part
      if (!st.ok()) return st;
      return insert(1)(c);
    });
    EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
    EXPECT_TRUE(writer.Run(insert(3)).ok());
  }
  auto conn = Connection::Open(path, false);
  auto s = (*conn)->Prepare("SELECT group_concat(v) FROM (SELECT v FROM t ORDER BY v)");
  ASSERT_TRUE(*s->Step());
  EXPECT_EQ(s->Text(0), "1,3");
}

// A full disk (here: SQLite's page limit) fails writes with RESOURCE_EXHAUSTED
// "disk full"; a write reported as failed left nothing, one reported as done
// is there, and writing goes on once there is room again.
TEST(Writer, AFullDiskFailsWritesCleanlyAndWritingGoesOnAfter) {
  testing::ScratchDir dir;
  std::string path = dir.Sub("w.db");
  std::vector<absl::Status> results(40);
  {
    auto conn = Connection::Open(path, true);
    ASSERT_TRUE((*conn)->ExecScript("CREATE TABLE t (v INTEGER PRIMARY KEY, pad BLOB)").ok());
    ASSERT_TRUE((*conn)->ExecScript("PRAGMA max_page_count = 40").ok());
    Writer writer(std::move(*conn));
    std::vector<std::thread> threads;
    for (int i = 0; i < 40; ++i) {
      threads.emplace_back([&, i] {
        results[i] = writer.Run([i](Connection& c) -> absl::Status {
          auto s = c.Prepare("INSERT INTO t VALUES (?, zeroblob(8000))");
          if (!s.ok()) return s.status();
          return s->Bind(1, static_cast<int64_t>(i)).Exec();
        });
      });
    }
    for (auto& th : threads) th.join();
    int full = 0;
    for (const auto& st : results) {
      if (st.ok()) continue;
      ++full;
      EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
      EXPECT_NE(st.message().find("disk full: " + dir.path()), std::string::npos) << st;
    }
    EXPECT_GT(full, 0);
    // Room again: the next group commits.
    EXPECT_TRUE(writer
                    .Run([](Connection& c) {
                      return c.ExecScript(
                          "PRAGMA max_page_count = 100000; INSERT INTO t VALUES (1000, NULL)");
                    })
                    .ok());
  }
  auto conn = Connection::Open(path, false);
  for (int i = 0; i < 40; ++i) {
    auto s = (*conn)->Prepare("SELECT count(*) FROM t WHERE v = ?");
    s->Bind(1, static_cast<int64_t>(i));
    ASSERT_TRUE(*s->Step());
    EXPECT_EQ(s->Int(0), results[i].ok() ? 1 : 0) << "write " << i << ": " << results[i];
  }
  auto check = (*conn)->Prepare("PRAGMA integrity_check");
  ASSERT_TRUE(*check->Step());
  EXPECT_EQ(check->Text(0), "ok");
}

}  // namespace
}  // namespace purser::db
