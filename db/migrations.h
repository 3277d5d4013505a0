// Numbered schema migrations, embedded from db/migrations/*.sql at build time.
#pragma once
#include <string>
#include <vector>

namespace purser::db {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// All migrations, ordered by version.
const std::vector<Migration>& Migrations();

}  // namespace purser::db
