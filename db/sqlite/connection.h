// A thin, safe wrapper over one sqlite3 connection: prepared statements are
// cached per connection and reset when their handle goes out of scope.
// Not thread-safe: one thread uses a connection at a time.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace purser::db {

class Connection;

// A borrowed prepared statement; resets and clears its bindings on destruction.
class Stmt {
 public:
  Stmt(Connection* conn, sqlite3_stmt* stmt) : conn_(conn), stmt_(stmt) {}
  Stmt(Stmt&& other) noexcept : conn_(other.conn_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  Stmt& Bind(int index, int64_t value);
  Stmt& Bind(int index, const std::string& value);
  Stmt& BindBlob(int index, const std::string& value);

  // One step: true when a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Steps to completion, then resets so the statement can be bound again.
  absl::Status Exec();

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) const;
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  Connection* conn_;
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  // Opens (creating if asked) the database at `path` in WAL mode with
  // synchronous=FULL and a busy timeout.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& path, bool create);
  // Opens a single-file database as it is (no pragmas) with sqlite3_open_v2
  // `flags`, e.g. SQLITE_OPEN_READONLY: backup files.
  static absl::StatusOr<std::unique_ptr<Connection>> OpenFile(const std::string& path, int flags);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A prepared statement for `sql`, cached by its text (statements built at
  // run time are cached once per distinct text).
  absl::StatusOr<Stmt> Prepare(absl::string_view sql);
  // Runs one or more statements without results (pragmas, migrations).
  absl::Status ExecScript(const std::string& sql);
  // A status for the connection's last error, naming `what` and the file.
  absl::Status Error(const std::string& what, int rc) const;
  sqlite3* raw() { return db_; }
  const std::string& path() const { return path_; }
  size_t cached_statements() const { return cache_.size(); }

 private:
  Connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  absl::flat_hash_map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace purser::db
