#include "db/sqlite/connection.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace purser::db {
namespace {

absl::StatusOr<int64_t> One(Connection& c, const std::string& sql) {
  auto s = c.Prepare(sql.c_str());  // as a run-time SQL string is passed
  if (!s.ok()) return s.status();
  auto row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError("no row");
  return s->Int(0);
}

// Statements built at run time live in temporaries whose address is reused:
// the cache must tell them apart by their text, not by where it lives.
TEST(Connection, CachesStatementsByTextNotByAddress) {
  testing::ScratchDir dir;
  auto conn = Connection::Open(dir.Sub("c.db"), true);
  ASSERT_TRUE(conn.ok()) << conn.status();
  std::string sql = "SELECT 1";
  EXPECT_EQ(*One(**conn, sql), 1);
  sql.assign("SELECT 2");  // same buffer, other text
  EXPECT_EQ(*One(**conn, sql), 2);
  for (int i = 3; i < 50; ++i) EXPECT_EQ(*One(**conn, "SELECT " + std::to_string(i)), i);
  EXPECT_EQ(*One(**conn, "SELECT 3"), 3);
  EXPECT_EQ((*conn)->cached_statements(), 49u);  // one per distinct text, none leaked
}

}  // namespace
}  // namespace purser::db
