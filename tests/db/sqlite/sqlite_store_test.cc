#include "db/sqlite/sqlite_store.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "db/audit_scope.h"
#include "db/migrations.h"
#include "shared/files.h"
#include "tests/test_util.h"

namespace purser::db {
namespace {

TEST(SqliteStore, MigrationsAreRecordedAndIdempotent) {
  testing::ScratchDir dir;
  std::string path = dir.Sub("p.db");
  ASSERT_TRUE(SqliteStore::Open(path, true).ok());
  ASSERT_TRUE(SqliteStore::Open(path, false).ok());
  auto conn = Connection::Open(path, false);
  auto s = (*conn)->Prepare("SELECT COUNT(*), MAX(version) FROM schema_migrations");
  ASSERT_TRUE(*s->Step());
  EXPECT_EQ(s->Int(0), static_cast<int64_t>(Migrations().size()));
  EXPECT_EQ(s->Int(1), Migrations().back().version);
}

TEST(SqliteStore, EndpointsFromBeforeTheOsColumnAreFilledInAtOpen) {
  testing::ScratchDir dir;
  std::string path = dir.Sub("p.db");
  {
    auto store = SqliteStore::Open(path, true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->CreateToken({"tok", "hash", 5, 1LL << 50, {}, "", "", {}}, 0).ok());
    v1::Inventory inv;
    inv.mutable_os()->set_product(v1::OS_PRODUCT_WINDOWS_8_1);
    ASSERT_TRUE((*store)->Enroll({"tok", "hash", "e81", inv, "s1", 1LL << 50, 1}).ok());
  }
  {  // as a row written before migration 006 looks
    auto conn = Connection::Open(path, false);
    ASSERT_TRUE((*conn)->ExecScript("UPDATE endpoints SET os_product = 0").ok());
  }
  auto store = SqliteStore::Open(path, false);
  ASSERT_TRUE(store.ok());
  EndpointFilter f;
  f.product = v1::OS_PRODUCT_WINDOWS_8_1;
  auto counts = (*store)->CountEndpoints(f);
  ASSERT_TRUE(counts.ok());
  ASSERT_EQ(counts->size(), 1u);
  EXPECT_EQ(counts->begin()->second, 1);
}

TEST(SqliteStore, NewerSchemaIsRefused) {
  testing::ScratchDir dir;
  std::string path = dir.Sub("p.db");
  ASSERT_TRUE(SqliteStore::Open(path, true).ok());
  {
    auto conn = Connection::Open(path, false);
    ASSERT_TRUE(
        (*conn)->ExecScript("INSERT INTO schema_migrations VALUES (999, 'future', 0)").ok());
  }
  auto bytes = ReadFile(path);
  ASSERT_TRUE(bytes.ok());
  auto st = SqliteStore::Open(path, false);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      st.status().message(),
      absl::StrCat("database ", path, " has schema version 999, newer than this server knows (",
                   Migrations().back().version, "): upgrade the server"));
  // Refused before anything is written: the newer server's data is intact.
  EXPECT_EQ(ReadFile(path).value_or(""), *bytes);
}

TEST(SqliteStore, CorruptOrMissingFilesAreNamed) {
  testing::ScratchDir dir;
  std::string path = dir.Sub("garbage.db");
  ASSERT_TRUE(WriteFileAtomic(path, std::string(4096, 'z')).ok());
  auto st = SqliteStore::Open(path, false);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(st.status().message().find("garbage.db"), std::string::npos);
  auto missing = SqliteStore::Open(dir.Sub("none.db"), false);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("none.db"), std::string::npos);
}

// An audit scope's row commits in the transaction of the call's first
// change, and a write that fails carries no row.
TEST(SqliteStore, AnAuditRowCommitsWithTheChangeItRecords) {
  testing::ScratchDir dir;
  auto store = SqliteStore::Open(dir.Sub("a.db"), true);
  ASSERT_TRUE(store.ok());
  v1::AuditEntry entry;
  entry.set_who("ada");
  entry.set_method("PutSecret");
  {
    AuditScope scope(entry);
    auto bad = (*store)->RevokeCert("no-such-serial", 1);  // fails: rolled back, no row
    EXPECT_FALSE(bad.ok());
    EXPECT_FALSE(scope.written());
    ASSERT_TRUE((*store)->PutSecret("k", "sealed", 2).ok());
    EXPECT_TRUE(scope.written());
    ASSERT_TRUE((*store)->PutSecret("k2", "sealed", 3).ok());  // one row per call
    ASSERT_TRUE((*store)->SetAuditResult(scope.row_id(), 9, "failed later").ok());
  }
  auto log = (*store)->ListAudit(v1::ListAuditRequest());
  ASSERT_TRUE(log.ok());
  int rows = 0;
  for (const auto& e : log->entries()) {
    if (e.who() != "ada") continue;
    ++rows;
    EXPECT_EQ(e.result_code(), 9);
    EXPECT_EQ(e.result_message(), "failed later");
  }
  EXPECT_EQ(rows, 1);
}

}  // namespace
}  // namespace purser::db
