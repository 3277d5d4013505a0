#include "db/sqlite/writer.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace purser::db
