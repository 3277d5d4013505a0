// Upgrades: every released schema's fixture (tests/upgrade/fixtures/schema-NNN,
// made by that release's own server and agents) opens with this store, is
// migrated to the newest schema, and keeps every row of every table that
// exists at both versions, column for column.
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "db/migrations.h"
#include "db/sqlite/connection.h"
#include "db/sqlite/sqlite_store.h"
#include "shared/files.h"
#include "tests/test_util.h"

namespace purser::db {
namespace {

namespace fs = std::filesystem;

// Schema versions of released commits; each has a fixture.
const std::vector<int> kReleasedSchemas = {1, 2, 3, 4, 5, 6, 9};

std::string FixtureDir(int schema) {
  char name[32];
  std::snprintf(name, sizeof name, "schema-%03d", schema);
  return std::string(PURSER_UPGRADE_FIXTURES_DIR) + "/" + name;
}

// One table: its columns, and its rows as column -> value (type-tagged text).
struct Table {
  std::vector<std::string> columns;
  std::multiset<std::map<std::string, std::string>> rows;
};

std::string Value(sqlite3_stmt* s, int col) {
  switch (sqlite3_column_type(s, col)) {
    case SQLITE_NULL:
      return "null";
    case SQLITE_INTEGER:
      return absl::StrCat("i:", sqlite3_column_int64(s, col));
    case SQLITE_FLOAT:
      return absl::StrCat("f:", sqlite3_column_double(s, col));
    case SQLITE_BLOB: {
      const char* p = static_cast<const char*>(sqlite3_column_blob(s, col));
      return "b:" + absl::BytesToHexString(std::string(p, sqlite3_column_bytes(s, col)));
    }
    default:
      return absl::StrCat("t:", reinterpret_cast<const char*>(sqlite3_column_text(s, col)));
  }
}

std::map<std::string, Table> Dump(const std::string& path) {
  std::map<std::string, Table> out;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  std::vector<std::string> names;
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                     "'sqlite_%' AND name != 'schema_migrations'",
                     -1, &s, nullptr);
  while (sqlite3_step(s) == SQLITE_ROW) {
    names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  }
  sqlite3_finalize(s);
  for (const auto& name : names) {
    Table& t = out[name];
    EXPECT_EQ(sqlite3_prepare_v2(db, ("SELECT * FROM \"" + name + "\"").c_str(), -1, &s, nullptr),
              SQLITE_OK);
    for (int c = 0; c < sqlite3_column_count(s); ++c)
      t.columns.push_back(sqlite3_column_name(s, c));
    while (sqlite3_step(s) == SQLITE_ROW) {
      std::map<std::string, std::string> row;
      for (int c = 0; c < sqlite3_column_count(s); ++c) row[t.columns[c]] = Value(s, c);
      t.rows.insert(std::move(row));
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return out;
}

int64_t SchemaVersion(const std::string& path) {
  auto conn = Connection::Open(path, false);
  if (!conn.ok()) return -1;
  auto s = (*conn)->Prepare("SELECT MAX(version) FROM schema_migrations");
  if (!s.ok() || !*s->Step()) return -1;
  return s->Int(0);
}

// The manifest's "table NAME ROWS" lines.
std::map<std::string, size_t> ManifestCounts(const std::string& path) {
  std::map<std::string, size_t> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() == 3 && f[0] == "table") out[f[1]] = std::stoul(f[2]);
  }
  return out;
}

// The same rows, seen through the columns both versions have.
std::multiset<std::map<std::string, std::string>> Project(const Table& t,
                                                          const std::set<std::string>& cols) {
  std::multiset<std::map<std::string, std::string>> out;
  for (const auto& row : t.rows) {
    std::map<std::string, std::string> p;
    for (const auto& c : cols) p[c] = row.at(c);
    out.insert(std::move(p));
  }
  return out;
}

class StoreUpgradeTest : public ::testing::TestWithParam<int> {};

TEST_P(StoreUpgradeTest, EveryRowIsKept) {
  std::string fixture = FixtureDir(GetParam()) + "/server/purser.db";
  ASSERT_TRUE(fs::exists(fixture)) << fixture << " is missing: make it with "
                                   << "tests/upgrade/make_fixture.sh (see tests/upgrade/README.md)";
  testing::ScratchDir dir;
  std::string path = dir.Sub("purser.db");
  fs::copy_file(fixture, path);
  ASSERT_EQ(SchemaVersion(path), GetParam()) << "the fixture is not at its schema";

  std::map<std::string, Table> before = Dump(path);
  // The fixture is what its manifest says (it was not edited by hand).
  std::map<std::string, size_t> manifest = ManifestCounts(FixtureDir(GetParam()) + "/manifest.txt");
  ASSERT_FALSE(manifest.empty());
  for (const auto& [name, rows] : manifest) {
    if (name == "schema_migrations") continue;
    ASSERT_EQ(before.count(name), 1u) << name;
    EXPECT_EQ(before[name].rows.size(), rows) << name;
  }
  EXPECT_GT(before["endpoints"].rows.size(), 0u);
  EXPECT_GT(before["jobs"].rows.size(), 0u);

  {
    auto store = SqliteStore::Open(path, false);
    ASSERT_TRUE(store.ok()) << store.status();
    // The store reads what the old version wrote.
    EndpointFilter all;
    all.page_size = 1000;
    auto endpoints = (*store)->ListEndpoints(all, 0);
    ASSERT_TRUE(endpoints.ok()) << endpoints.status();
    EXPECT_EQ(endpoints->endpoints.size(), before["endpoints"].rows.size());
  }
  EXPECT_EQ(SchemaVersion(path), Migrations().back().version);

  std::map<std::string, Table> after = Dump(path);
  for (const auto& [name, old] : before) {
    auto it = after.find(name);
    ASSERT_NE(it, after.end()) << "table " << name << " is gone after the upgrade";
    std::set<std::string> common;
    for (const auto& c : old.columns) {
      const auto& now = it->second.columns;
      if (std::find(now.begin(), now.end(), c) != now.end()) common.insert(c);
    }
    EXPECT_FALSE(common.empty()) << name;
    EXPECT_EQ(Project(old, common), Project(it->second, common))
        << "rows of " << name << " changed in the upgrade from schema " << GetParam();
  }
}

INSTANTIATE_TEST_SUITE_P(ReleasedSchemas, StoreUpgradeTest, ::testing::ValuesIn(kReleasedSchemas),
                         [](const auto& info) { return absl::StrCat("Schema", info.param); });

}  // namespace
}  // namespace purser::db
