#include "db/sqlite/sqlite_store.h"

#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "db/audit_scope.h"
#include "db/migrations.h"
#include "db/sqlite/rows.h"
#include "shared/crypto.h"
#include "shared/status_macros.h"

namespace purser::db {
namespace {

using namespace sqlite;  // NOLINT: the shared row helpers

// Endpoints stored before migration 006 get their OS product column from
// their inventory, once.
absl::Status FillOsProduct(Connection& c) {
  std::vector<std::pair<std::string, int>> rows;
  {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT id, inventory FROM endpoints WHERE os_product = 0 "
                                       "AND inventory IS NOT NULL"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      v1::Inventory inv;
      if (inv.ParseFromString(s.Text(1)) && inv.os().product() != 0) {
        rows.emplace_back(s.Text(0), inv.os().product());
      }
    }
  }
  if (rows.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(c.ExecScript("BEGIN IMMEDIATE"));
  for (const auto& [id, product] : rows) {
    auto s = c.Prepare("UPDATE endpoints SET os_product = ? WHERE id = ?");
    absl::Status st = s.ok() ? s->Bind(1, product).Bind(2, id).Exec() : s.status();
    if (!st.ok()) {
      c.ExecScript("ROLLBACK").IgnoreError();
      return st;
    }
  }
  return c.ExecScript("COMMIT");
}

// The SQL part of a filter, with only the conditions that are set, so that
// SQLite can use the (state, id) index. Parameters ?1..?4 stay numbered.
std::string EndpointWhere(const EndpointFilter& f) {
  std::string where = "WHERE 1";
  if (f.state != v1::ENDPOINT_STATE_UNSPECIFIED) where += " AND e.state = ?1";
  if (f.not_seen_since_ms != 0) where += " AND e.last_seen_ms < ?2";
  if (f.product != v1::OS_PRODUCT_UNSPECIFIED) where += " AND e.os_product = ?4";
  if (!f.campaign_id.empty()) {
    where += " AND e.id IN (SELECT endpoint_id FROM campaign_members WHERE campaign_id = ?3)";
  }
  return where;
}

void BindEndpointFilter(Stmt& s, const EndpointFilter& f) {
  if (f.state != v1::ENDPOINT_STATE_UNSPECIFIED) s.Bind(1, f.state);
  if (f.not_seen_since_ms != 0) s.Bind(2, f.not_seen_since_ms);
  if (f.product != v1::OS_PRODUCT_UNSPECIFIED) s.Bind(4, f.product);
  if (!f.campaign_id.empty()) s.Bind(3, f.campaign_id);
}

// Labels live in a blob, so that filter applies past the SQL.
bool MatchesBlobFilters(const v1::Endpoint& e, const EndpointFilter& f) {
  for (const auto& [k, v] : f.labels) {
    auto it = e.labels().find(k);
    if (it == e.labels().end() || it->second != v) return false;
  }
  return true;
}

absl::Status ApplyMigrations(Connection& c, bool create) {
  if (!create) {
    // SQLite takes an empty file for a new database: for an existing fleet
    // that would silently start over with nothing.
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT count(*) FROM sqlite_master"));
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row || s.Int(0) == 0) {
      return absl::DataLossError(absl::StrCat(
          "database ", c.path(),
          " is empty (no tables): it was truncated or never written; restore it from a backup, "
          "or start with an empty data directory to make a new fleet"));
    }
  }
  RETURN_IF_ERROR(
      c.ExecScript("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                   "name TEXT NOT NULL, applied_ms INTEGER NOT NULL)"));
  int64_t current = 0;
  {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) current = s.Int(0);
  }
  const auto& all = Migrations();
  int64_t newest = all.empty() ? 0 : all.back().version;
  if (current > newest) {
    return absl::FailedPreconditionError(absl::StrCat("database ", c.path(), " has schema version ",
                                                      current, ", newer than this server knows (",
                                                      newest, "): upgrade the server"));
  }
  for (const auto& m : all) {
    if (m.version <= current) continue;
    RETURN_IF_ERROR(c.ExecScript("BEGIN IMMEDIATE"));
    absl::Status st = c.ExecScript(m.sql);
    if (st.ok()) {
      auto ins = c.Prepare("INSERT INTO schema_migrations VALUES (?, ?, ?)");
      st = ins.ok() ? ins->Bind(1, m.version)
                          .Bind(2, std::string(m.name))
                          .Bind(3, absl::ToUnixMillis(absl::Now()))
                          .Exec()
                    : ins.status();
    }
    if (!st.ok()) {
      c.ExecScript("ROLLBACK").IgnoreError();
      return absl::Status(st.code(), absl::StrCat("migration ", m.name, ": ", st.message()));
    }
    RETURN_IF_ERROR(c.ExecScript("COMMIT"));
  }
  return absl::OkStatus();
}

}  // namespace

using namespace sqlite;  // NOLINT

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, bool create,
                                                               StoreOptions options) {
  // SQLite would take a 0-byte file for a new database (and write to it):
  // for an existing fleet it is a damaged one. Refused before it is touched.
  struct stat st;
  if (!create && ::stat(path.c_str(), &st) == 0 && st.st_size == 0) {
    return absl::DataLossError(absl::StrCat(
        "database ", path,
        " is empty (0 bytes): it was truncated or never written; restore it from a backup, or "
        "start with an empty data directory to make a new fleet"));
  }
  ASSIGN_OR_RETURN(auto conn, Connection::Open(path, create));
  // The database holds the fleet and its sealed secrets: its owner's alone,
  // whatever the umask (the WAL and shared-memory files take its mode).
  if (::chmod(path.c_str(), 0600) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot make ", path, " private (chmod 600)"));
  }
  RETURN_IF_ERROR(ApplyMigrations(*conn, create));
  RETURN_IF_ERROR(FillOsProduct(*conn));
  auto writer =
      std::make_unique<Writer>(std::move(conn), Writer::kDefaultMaxGroup, options.on_commit);
  return std::unique_ptr<SqliteStore>(new SqliteStore(path, options, std::move(writer)));
}

SqliteStore::~SqliteStore() = default;

absl::Status SqliteStore::Write(const Writer::WriteFn& fn) {
  AuditScope* audit = AuditScope::Current();
  if (audit == nullptr || audit->written()) return writer_->Run(fn);
  int64_t row = 0;
  absl::Status st = writer_->Run([&](Connection& c) -> absl::Status {
    RETURN_IF_ERROR(fn(c));
    RETURN_IF_ERROR(InsertAudit(c, audit->entry()));
    row = sqlite3_last_insert_rowid(c.raw());
    return absl::OkStatus();
  });
  if (st.ok() && row != 0) audit->MarkWritten(row);
  return st;
}

absl::Status SqliteStore::Read(const std::function<absl::Status(Connection&)>& fn) {
  std::unique_ptr<Connection> conn;
  {
    absl::MutexLock lock(&readers_mu_);
    if (!idle_readers_.empty()) {
      conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (!conn) {
    ASSIGN_OR_RETURN(conn, Connection::Open(path_, false));
  }
  RETURN_IF_ERROR(conn->ExecScript("BEGIN"));
  absl::Status st = fn(*conn);
  conn->ExecScript("COMMIT").IgnoreError();
  absl::MutexLock lock(&readers_mu_);
  idle_readers_.push_back(std::move(conn));
  return st;
}

absl::Status SqliteStore::CreateToken(const TokenRecord& t, int64_t now_ms) {
  return Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("INSERT INTO tokens(id, secret_hash, max_uses, expires_ms, "
                                       "labels, description, created_ms, created_by, readmit) "
                                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    return s.Bind(1, t.id)
        .Bind(2, t.secret_hash)
        .Bind(3, t.max_uses)
        .Bind(4, t.expires_ms)
        .BindBlob(5, MapBlob(t.labels))
        .Bind(6, t.description)
        .Bind(7, now_ms)
        .Bind(8, t.created_by)
        .Bind(9, absl::StrJoin(t.readmit_endpoint_ids, "\n"))
        .Exec();
  });
}

namespace {

struct TokenRow {
  std::map<std::string, std::string> labels;
  std::vector<std::string> readmit;
};

// The token if it is accepted at `now_ms`; PERMISSION_DENIED saying why not.
absl::StatusOr<TokenRow> AcceptedToken(Connection& c, const std::string& token_id,
                                       const std::string& secret_hash, int64_t now_ms) {
  ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT secret_hash, max_uses, uses, expires_ms, labels, "
                                     "readmit FROM tokens WHERE id = ?"));
  s.Bind(1, token_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row || !SecureEquals(s.Text(0), secret_hash)) {
    return absl::PermissionDeniedError("enrollment token is not valid");
  }
  if (s.Int(3) <= now_ms) {
    return absl::PermissionDeniedError(
        absl::StrCat("enrollment token ", token_id, " expired at ",
                     absl::FormatTime(absl::FromUnixMillis(s.Int(3)), absl::UTCTimeZone())));
  }
  if (s.Int(2) >= s.Int(1)) {
    return absl::PermissionDeniedError(absl::StrCat("enrollment token ", token_id, " is used up (",
                                                    s.Int(2), " of ", s.Int(1), " uses)"));
  }
  TokenRow t;
  t.labels = BlobMap(s.Text(4));
  t.readmit = absl::StrSplit(s.Text(5), '\n', absl::SkipEmpty());
  return t;
}

}  // namespace

absl::Status SqliteStore::CheckToken(const std::string& token_id, const std::string& secret_hash,
                                     int64_t now_ms) {
  return Read(
      [&](Connection& c) { return AcceptedToken(c, token_id, secret_hash, now_ms).status(); });
}

absl::StatusOr<v1::Endpoint> SqliteStore::Enroll(const EnrollArgs& a) {
  v1::Endpoint out;
  absl::Status st = Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(TokenRow token, AcceptedToken(c, a.token_id, a.secret_hash, a.now_ms));
    const std::map<std::string, std::string>& labels = token.labels;
    ASSIGN_OR_RETURN(Stmt use, c.Prepare("UPDATE tokens SET uses = uses + 1 WHERE id = ?"));
    RETURN_IF_ERROR(use.Bind(1, a.token_id).Exec());
    ASSIGN_OR_RETURN(auto existing, LoadEndpoint(c, a.endpoint_id, a.now_ms, options_));
    if (existing && existing->state() == v1::ENDPOINT_STATE_REVOKED &&
        std::find(token.readmit.begin(), token.readmit.end(), a.endpoint_id) ==
            token.readmit.end()) {
      return absl::PermissionDeniedError(
          absl::StrCat("endpoint ", a.endpoint_id,
                       " was revoked: its key enrolls again only with a token "
                       "made to readmit it (purserctl token create --readmit ",
                       a.endpoint_id, ")"));
    }
    std::string detail;
    if (existing) {
      // The same key enrolling again (e.g. after its certificate expired): keep
      // its history and run, give it the new certificate.
      v1::EndpointState state = existing->state() == v1::ENDPOINT_STATE_REVOKED
                                    ? v1::ENDPOINT_STATE_ENROLLED
                                    : existing->state();
      detail = existing->state_detail();
      state = ClassifyOs(state, a.inventory, &detail);
      ASSIGN_OR_RETURN(Stmt s, c.Prepare("UPDATE endpoints SET inventory = ?, hostname = ?, "
                                         "cert_serial = ?, last_seen_ms = ?, token_id = ?, "
                                         "os_product = ?7 WHERE id = ?6"));
      RETURN_IF_ERROR(s.BindBlob(1, a.inventory.SerializeAsString())
                          .Bind(2, a.inventory.hostname())
                          .Bind(3, a.cert_serial)
                          .Bind(4, a.now_ms)
                          .Bind(5, a.token_id)
                          .Bind(6, a.endpoint_id)
                          .Bind(7, a.inventory.os().product())
                          .Exec());
      RETURN_IF_ERROR(SetState(c, a.endpoint_id, state, detail.empty() ? "re-enrolled" : detail,
                               existing->error_class(), a.now_ms, /*readmit=*/true));
    } else {
      v1::EndpointState state = ClassifyOs(v1::ENDPOINT_STATE_ENROLLED, a.inventory, &detail);
      ASSIGN_OR_RETURN(Stmt s,
                       c.Prepare("INSERT INTO endpoints(id, hostname, inventory, labels, state, "
                                 "state_detail, cert_serial, last_seen_ms, enrolled_ms, token_id, "
                                 "os_product) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      RETURN_IF_ERROR(s.Bind(1, a.endpoint_id)
                          .Bind(2, a.inventory.hostname())
                          .BindBlob(3, a.inventory.SerializeAsString())
                          .BindBlob(4, MapBlob(labels))
                          .Bind(5, state)
                          .Bind(6, detail)
                          .Bind(7, a.cert_serial)
                          .Bind(8, a.now_ms)
                          .Bind(9, a.now_ms)
                          .Bind(10, a.token_id)
                          .Bind(11, a.inventory.os().product())
                          .Exec());
      RETURN_IF_ERROR(
          AddEvent(c, a.endpoint_id, a.now_ms, state, detail.empty() ? "enrolled" : detail));
    }
    ASSIGN_OR_RETURN(Stmt cert, c.Prepare("INSERT INTO certs(serial, subject, role, issued_ms, "
                                          "not_after_ms) VALUES (?, ?, 'agent', ?, ?)"));
    RETURN_IF_ERROR(cert.Bind(1, a.cert_serial)
                        .Bind(2, a.endpoint_id)
                        .Bind(3, a.now_ms)
                        .Bind(4, a.cert_not_after_ms)
                        .Exec());
    ASSIGN_OR_RETURN(auto e, LoadEndpoint(c, a.endpoint_id, a.now_ms, options_));
    out = *e;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<v1::Endpoint> SqliteStore::CheckIn(const std::string& endpoint_id,
                                                  const v1::Inventory& inventory, int64_t now_ms) {
  v1::Endpoint out;
  absl::Status st = Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(auto e, LoadEndpoint(c, endpoint_id, now_ms, options_));
    if (!e) return absl::NotFoundError(absl::StrCat("endpoint ", endpoint_id, " is not enrolled"));
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("UPDATE endpoints SET inventory = ?, hostname = ?, "
                                       "last_seen_ms = ?, os_product = ? WHERE id = ?"));
    RETURN_IF_ERROR(s.BindBlob(1, inventory.SerializeAsString())
                        .Bind(2, inventory.hostname())
                        .Bind(3, now_ms)
                        .Bind(4, inventory.os().product())
                        .Bind(5, endpoint_id)
                        .Exec());
    RETURN_IF_ERROR(NoteNonce(c, endpoint_id, inventory, now_ms));
    std::string detail = e->state_detail();
    v1::EndpointState state = ClassifyOs(e->state(), inventory, &detail);
    if (state != e->state()) {
      RETURN_IF_ERROR(SetState(c, endpoint_id, state, detail, v1::ERROR_CLASS_UNSPECIFIED, now_ms));
    }
    ASSIGN_OR_RETURN(auto updated, LoadEndpoint(c, endpoint_id, now_ms, options_));
    out = *updated;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::Status SqliteStore::TouchEndpoints(const std::vector<std::string>& ids, int64_t now_ms) {
  if (ids.empty()) return absl::OkStatus();
  return Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("UPDATE endpoints SET last_seen_ms = MAX(last_seen_ms, ?) "
                                       "WHERE id = ?"));
    for (const auto& id : ids) {
      RETURN_IF_ERROR(s.Bind(1, now_ms).Bind(2, id).Exec());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Endpoint> SqliteStore::GetEndpoint(const std::string& id, int64_t now_ms) {
  std::optional<v1::Endpoint> out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(out, LoadEndpoint(c, id, now_ms, options_));
    return absl::OkStatus();
  }));
  if (!out) return absl::NotFoundError(absl::StrCat("endpoint ", id, " not found"));
  return *out;
}

absl::StatusOr<EndpointPage> SqliteStore::ListEndpoints(const EndpointFilter& f, int64_t now_ms) {
  const std::string sql = absl::StrCat("SELECT ", kEndpointColumns,
                                       " FROM endpoints e LEFT JOIN runs r ON r.id = e.run_id ",
                                       EndpointWhere(f), " AND e.id > ?5 ORDER BY e.id");
  int page_size = f.page_size <= 0 ? 100 : std::min(f.page_size, 1000);
  EndpointPage page;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare(sql.c_str()));
    BindEndpointFilter(s, f);
    s.Bind(5, f.page_token);
    while (static_cast<int>(page.endpoints.size()) <= page_size) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      v1::Endpoint e = EndpointFromRow(s, now_ms, options_);
      if (MatchesBlobFilters(e, f)) page.endpoints.push_back(std::move(e));
    }
    return absl::OkStatus();
  }));
  if (static_cast<int>(page.endpoints.size()) > page_size) {
    page.endpoints.pop_back();
    page.next_page_token = page.endpoints.back().id();
  }
  return page;
}

absl::StatusOr<StateCounts> SqliteStore::CountEndpoints(const EndpointFilter& f) {
  // Labels live in a blob: with that filter, rows are read and matched.
  const bool blob_filters = !f.labels.empty();
  const std::string where = EndpointWhere(f);
  const std::string grouped =
      absl::StrCat("SELECT e.state, COUNT(*) FROM endpoints e ", where, " GROUP BY e.state");
  const std::string rows = absl::StrCat(
      "SELECT ", kEndpointColumns, " FROM endpoints e LEFT JOIN runs r ON r.id = e.run_id ", where);
  StateCounts counts;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare(blob_filters ? rows.c_str() : grouped.c_str()));
    BindEndpointFilter(s, f);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      if (!blob_filters) {
        counts[static_cast<v1::EndpointState>(s.Int(0))] += s.Int(1);
        continue;
      }
      v1::Endpoint e = EndpointFromRow(s, 0, options_);
      if (MatchesBlobFilters(e, f)) ++counts[e.state()];
    }
    return absl::OkStatus();
  }));
  return counts;
}

absl::StatusOr<StateOsCounts> SqliteStore::CountEndpointsByStateAndOs() {
  StateOsCounts counts;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT state, os_product, COUNT(*) FROM endpoints "
                                       "GROUP BY state, os_product"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      counts[{static_cast<v1::EndpointState>(s.Int(0)), static_cast<v1::OsProduct>(s.Int(1))}] =
          s.Int(2);
    }
    return absl::OkStatus();
  }));
  return counts;
}

absl::StatusOr<StoreStats> SqliteStore::Stats() {
  StoreStats out;
  Writer::Stats w = writer_->stats();
  out.transactions = w.transactions;
  out.writes = w.writes;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT COUNT(*) FROM endpoints"));
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) out.endpoints = s.Int(0);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Endpoint> SqliteStore::SetLabels(const std::string& id,
                                                    const std::map<std::string, std::string>& set,
                                                    const std::vector<std::string>& remove,
                                                    int64_t now_ms) {
  v1::Endpoint out;
  absl::Status st = Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(auto e, LoadEndpoint(c, id, now_ms, options_));
    if (!e) return absl::NotFoundError(absl::StrCat("endpoint ", id, " not found"));
    std::map<std::string, std::string> labels(e->labels().begin(), e->labels().end());
    for (const auto& [k, v] : set) labels[k] = v;
    for (const auto& k : remove) labels.erase(k);
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("UPDATE endpoints SET labels = ? WHERE id = ?"));
    RETURN_IF_ERROR(s.BindBlob(1, MapBlob(labels)).Bind(2, id).Exec());
    ASSIGN_OR_RETURN(auto updated, LoadEndpoint(c, id, now_ms, options_));
    out = *updated;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<v1::JobInfo>> SqliteStore::ListJobs(const std::string& endpoint_id) {
  std::vector<v1::JobInfo> out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s,
                     c.Prepare("SELECT j.id, j.run_id, j.seq, j.step_id, j.kind, j.state, "
                               "j.attempt, j.max_attempts, j.exit_code, j.message, j.updated_ms, "
                               "j.timed_out_attempts, j.error_class FROM jobs j JOIN endpoints e "
                               "ON e.id = j.endpoint_id AND (e.run_id = '' OR e.run_id = j.run_id) "
                               "WHERE j.endpoint_id = ? ORDER BY j.run_id, j.seq"));
    s.Bind(1, endpoint_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      v1::JobInfo j;
      j.set_job_id(s.Text(0));
      j.set_run_id(s.Text(1));
      j.set_seq(static_cast<int32_t>(s.Int(2)));
      j.set_step_id(s.Text(3));
      j.set_kind(static_cast<v1::StepKind>(s.Int(4)));
      j.set_state(static_cast<v1::JobState>(s.Int(5)));
      j.set_attempt(static_cast<int32_t>(s.Int(6)));
      j.set_max_attempts(static_cast<int32_t>(s.Int(7)));
      j.set_exit_code(static_cast<int32_t>(s.Int(8)));
      j.set_message(s.Text(9));
      j.set_updated_unix_ms(s.Int(10));
      j.set_timed_out_attempts(static_cast<int32_t>(s.Int(11)));
      j.set_error_class(static_cast<v1::ErrorClass>(s.Int(12)));
      out.push_back(std::move(j));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status SqliteStore::PutSecret(const std::string& name, const std::string& sealed,
                                    int64_t now_ms) {
  return Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s,
                     c.Prepare("INSERT INTO secrets(name, sealed, updated_ms) "
                               "VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                               "sealed = excluded.sealed, updated_ms = excluded.updated_ms"));
    return s.Bind(1, name).BindBlob(2, sealed).Bind(3, now_ms).Exec();
  });
}

absl::StatusOr<std::string> SqliteStore::GetSealedSecret(const std::string& name) {
  std::optional<std::string> out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT sealed FROM secrets WHERE name = ?"));
    s.Bind(1, name);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) out = s.Text(0);
    return absl::OkStatus();
  }));
  if (!out) return absl::NotFoundError(absl::StrCat("secret \"", name, "\" is not set"));
  return *out;
}

absl::StatusOr<int> SqliteStore::ResealSecrets(const ResealFn& reseal, int64_t now_ms) {
  int count = 0;
  RETURN_IF_ERROR(Write([&](Connection& c) -> absl::Status {
    count = 0;  // a retried group starts over
    std::vector<std::pair<std::string, std::string>> resealed;
    {
      ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT name, sealed FROM secrets ORDER BY name"));
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        std::string name = s.Text(0);
        ASSIGN_OR_RETURN(std::string sealed, reseal(name, s.Text(1)));
        resealed.emplace_back(std::move(name), std::move(sealed));
      }
    }
    for (const auto& [name, sealed] : resealed) {
      ASSIGN_OR_RETURN(Stmt u,
                       c.Prepare("UPDATE secrets SET sealed = ?, updated_ms = ? WHERE name = ?"));
      RETURN_IF_ERROR(u.BindBlob(1, sealed).Bind(2, now_ms).Bind(3, name).Exec());
      ++count;
    }
    return absl::OkStatus();
  }));
  return count;
}

absl::StatusOr<std::vector<std::string>> SqliteStore::ListSecretNames() {
  std::vector<std::string> out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT name FROM secrets ORDER BY name"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(s.Text(0));
    }
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace purser::db
