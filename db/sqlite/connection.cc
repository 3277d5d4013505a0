#include "db/sqlite/connection.h"

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "shared/disk_full.h"

namespace purser::db {

Stmt::~Stmt() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Stmt& Stmt::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Stmt& Stmt::Bind(int index, const std::string& value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindBlob(int index, const std::string& value) {
  sqlite3_bind_blob(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

absl::StatusOr<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return conn_->Error(absl::StrCat("executing \"", sqlite3_sql(stmt_), "\""), rc);
}

absl::Status Stmt::Exec() {
  while (true) {
    auto row = Step();
    if (!row.ok() || !*row) {
      sqlite3_reset(stmt_);  // ready to be bound and run again
      return row.status();
    }
  }
}

std::string Stmt::Text(int col) const {
  const void* data = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return data ? std::string(static_cast<const char*>(data), static_cast<size_t>(n)) : "";
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::string& path, bool create) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  std::unique_ptr<Connection> conn(new Connection(db, path));
  if (rc != SQLITE_OK) return conn->Error("opening database", rc);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 1);
  // Reading the journal mode touches the file: a non-database fails here, clearly.
  absl::Status st =
      conn->ExecScript("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
  if (!st.ok()) return st;
  return conn;
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::OpenFile(const std::string& path,
                                                                 int flags) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<Connection> conn(new Connection(db, path));
  if (rc != SQLITE_OK) return conn->Error("opening database", rc);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 1);
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

absl::StatusOr<Stmt> Connection::Prepare(absl::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Stmt(this, it->second);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(absl::StrCat("preparing \"", sql, "\""), rc);
  cache_.emplace(std::string(sql), stmt);
  return Stmt(this, stmt);
}

absl::Status Connection::ExecScript(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  if (rc != SQLITE_OK) return Error("executing script", rc);
  return absl::OkStatus();
}

absl::Status Connection::Error(const std::string& what, int rc) const {
  std::string msg = absl::StrCat("database ", path_, ": ", what, ": ",
                                 db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  // ENOSPC can also surface as an I/O error (growing the shared-memory file).
  if ((rc & 0xff) == SQLITE_FULL ||
      ((rc & 0xff) == SQLITE_IOERR && db_ && sqlite3_system_errno(db_) == ENOSPC)) {
    return DiskFullError(DirOf(path_), msg);
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(msg);
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return absl::DataLossError(msg);
    case SQLITE_CANTOPEN:
      return absl::NotFoundError(msg);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(msg);
    case SQLITE_IOERR:
      return absl::UnavailableError(absl::StrCat(msg, " (I/O error)"));
    default:
      return absl::InternalError(msg);
  }
}

}  // namespace purser::db
