#include "db/sqlite/sqlite_store.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "db/migrations.h"
#include "db/state_machine.h"
#include "shared/crypto.h"
#include "shared/plan/effective_plan.h"
#include "shared/plan/platform.h"
#include "shared/status_macros.h"

namespace purser::db {
namespace {

constexpr char kEndpointColumns[] =
    "e.id, e.hostname, e.inventory, e.labels, e.state, e.state_detail, e.error_class, e.run_id, "
    "e.current_seq, e.step_count, e.current_step_id, e.cert_serial, e.last_seen_ms, "
    "e.enrolled_ms, COALESCE(r.plan_name, ''), e.reboot_allowed, e.clone_suspected";

std::string MapBlob(const std::map<std::string, std::string>& m) {
  v1::StringMap sm;
  sm.mutable_entries()->insert(m.begin(), m.end());
  return sm.SerializeAsString();
}

std::map<std::string, std::string> BlobMap(const std::string& blob) {
  v1::StringMap sm;
  sm.ParseFromString(blob);
  return {sm.entries().begin(), sm.entries().end()};
}

v1::Endpoint EndpointFromRow(const Stmt& s, int64_t now_ms, const StoreOptions& options) {
  v1::Endpoint e;
  e.set_id(s.Text(0));
  e.set_hostname(s.Text(1));
  v1::Inventory inv;
  inv.ParseFromString(s.Text(2));
  *e.mutable_os() = inv.os();
  e.mutable_installed_kbs()->CopyFrom(inv.installed_kbs());
  e.set_dotnet_version(inv.dotnet_version());
  e.set_pending_reboot(inv.pending_reboot());
  e.set_agent_version(inv.agent_version());
  for (const auto& [k, v] : BlobMap(s.Text(3))) (*e.mutable_labels())[k] = v;
  e.set_state(static_cast<v1::EndpointState>(s.Int(4)));
  e.set_state_detail(s.Text(5));
  e.set_error_class(static_cast<v1::ErrorClass>(s.Int(6)));
  e.set_run_id(s.Text(7));
  e.set_current_step(static_cast<int32_t>(s.Int(8)));
  e.set_step_count(static_cast<int32_t>(s.Int(9)));
  e.set_current_step_id(s.Text(10));
  e.set_cert_serial(s.Text(11));
  e.set_last_seen_unix_ms(s.Int(12));
  e.set_enrolled_unix_ms(s.Int(13));
  e.set_plan_name(s.Text(14));
  e.set_reboot_allowed(s.Int(15) != 0);
  e.set_clone_suspected(s.Int(16) != 0);
  e.set_online(e.last_seen_unix_ms() > 0 &&
               now_ms - e.last_seen_unix_ms() <= options.offline_after_ms);
  return e;
}

absl::StatusOr<std::optional<v1::Endpoint>> LoadEndpoint(Connection& c, const std::string& id,
                                                         int64_t now_ms,
                                                         const StoreOptions& options) {
  static const std::string sql =
      absl::StrCat("SELECT ", kEndpointColumns,
                   " FROM endpoints e LEFT JOIN runs r ON r.id = e.run_id WHERE e.id = ?");
  ASSIGN_OR_RETURN(Stmt s, c.Prepare(sql.c_str()));
  s.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<v1::Endpoint>();
  return std::optional<v1::Endpoint>(EndpointFromRow(s, now_ms, options));
}

absl::Status AddEvent(Connection& c, const std::string& endpoint_id, int64_t now_ms,
                      v1::EndpointState state, const std::string& detail) {
  ASSIGN_OR_RETURN(Stmt s, c.Prepare("INSERT INTO events(endpoint_id, at_ms, state, detail) "
                                     "VALUES (?, ?, ?, ?)"));
  return s.Bind(1, endpoint_id).Bind(2, now_ms).Bind(3, state).Bind(4, detail).Exec();
}

// Sets the endpoint's state and records the change in its timeline.
absl::Status SetState(Connection& c, const std::string& id, v1::EndpointState state,
                      const std::string& detail, v1::ErrorClass error_class, int64_t now_ms) {
  ASSIGN_OR_RETURN(Stmt s, c.Prepare("UPDATE endpoints SET state = ?1, state_detail = ?2, "
                                     "error_class = ?3 WHERE id = ?4 AND (state != ?1 OR "
                                     "state_detail != ?2 OR error_class != ?3)"));
  RETURN_IF_ERROR(s.Bind(1, state).Bind(2, detail).Bind(3, error_class).Bind(4, id).Exec());
  if (sqlite3_changes(c.raw()) == 0) return absl::OkStatus();  // unchanged: no new event
  if (state == v1::ENDPOINT_STATE_ONBOARDED) {
    ASSIGN_OR_RETURN(Stmt v, c.Prepare("UPDATE endpoints SET verified_ms = ? WHERE id = ?"));
    RETURN_IF_ERROR(v.Bind(1, now_ms).Bind(2, id).Exec());
  }
  return AddEvent(c, id, now_ms, state, detail);
}

// Each agent installation has its own nonce: another one under the same
// certificate is a cloned identity. Flag it and say so; never merge silently.
absl::Status NoteNonce(Connection& c, const std::string& id, const v1::Inventory& inv,
                       int64_t now_ms) {
  if (inv.agent_nonce().empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(Stmt s,
                   c.Prepare("SELECT agent_nonce, clone_suspected FROM endpoints WHERE id = ?"));
  s.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::OkStatus();
  std::string known = s.Text(0);
  bool flagged = s.Int(1) != 0;
  if (known.empty()) {
    ASSIGN_OR_RETURN(Stmt set, c.Prepare("UPDATE endpoints SET agent_nonce = ? WHERE id = ?"));
    return set.Bind(1, inv.agent_nonce()).Bind(2, id).Exec();
  }
  if (known == inv.agent_nonce() || flagged) return absl::OkStatus();
  ASSIGN_OR_RETURN(Stmt flag, c.Prepare("UPDATE endpoints SET clone_suspected = 1 WHERE id = ?"));
  RETURN_IF_ERROR(flag.Bind(1, id).Exec());
  ASSIGN_OR_RETURN(Stmt st, c.Prepare("SELECT state FROM endpoints WHERE id = ?"));
  st.Bind(1, id);
  ASSIGN_OR_RETURN(bool have, st.Step());
  return AddEvent(
      c, id, now_ms,
      have ? static_cast<v1::EndpointState>(st.Int(0)) : v1::ENDPOINT_STATE_UNSPECIFIED,
      absl::StrCat("cloned identity suspected: agent ", inv.agent_nonce().substr(0, 8), " on ",
                   inv.hostname(), " presents the certificate of agent ", known.substr(0, 8)));
}

absl::Status ApplyMigrations(Connection& c) {
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

v1::EndpointState ClassifyOs(v1::EndpointState current, const v1::Inventory& inv,
                             std::string* detail) {
  if (!inv.has_os() || current == v1::ENDPOINT_STATE_REVOKED) return current;
  std::string reason = UnsupportedReason(inv.os());
  if (!reason.empty()) {
    *detail = reason;
    return v1::ENDPOINT_STATE_UNSUPPORTED;
  }
  if (current == v1::ENDPOINT_STATE_UNSUPPORTED) {
    *detail = "";
    return v1::ENDPOINT_STATE_ENROLLED;
  }
  return current;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, bool create,
                                                               StoreOptions options) {
  ASSIGN_OR_RETURN(auto conn, Connection::Open(path, create));
  RETURN_IF_ERROR(ApplyMigrations(*conn));
  auto writer = std::make_unique<Writer>(std::move(conn));
  return std::unique_ptr<SqliteStore>(new SqliteStore(path, options, std::move(writer)));
}

SqliteStore::~SqliteStore() = default;

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
  return writer_->Run([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("INSERT INTO tokens(id, secret_hash, max_uses, expires_ms, "
                                       "labels, description, created_ms, created_by) "
                                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
    return s.Bind(1, t.id)
        .Bind(2, t.secret_hash)
        .Bind(3, t.max_uses)
        .Bind(4, t.expires_ms)
        .BindBlob(5, MapBlob(t.labels))
        .Bind(6, t.description)
        .Bind(7, now_ms)
        .Bind(8, t.created_by)
        .Exec();
  });
}

absl::StatusOr<v1::Endpoint> SqliteStore::Enroll(const EnrollArgs& a) {
  v1::Endpoint out;
  absl::Status st = writer_->Run([&](Connection& c) -> absl::Status {
    std::map<std::string, std::string> labels;
    {
      ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT secret_hash, max_uses, uses, expires_ms, labels "
                                         "FROM tokens WHERE id = ?"));
      s.Bind(1, a.token_id);
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row || !SecureEquals(s.Text(0), a.secret_hash)) {
        return absl::PermissionDeniedError("enrollment token is not valid");
      }
      if (s.Int(3) <= a.now_ms) {
        return absl::PermissionDeniedError(
            absl::StrCat("enrollment token ", a.token_id, " expired at ",
                         absl::FormatTime(absl::FromUnixMillis(s.Int(3)), absl::UTCTimeZone())));
      }
      if (s.Int(2) >= s.Int(1)) {
        return absl::PermissionDeniedError(absl::StrCat("enrollment token ", a.token_id,
                                                        " is used up (", s.Int(2), " of ", s.Int(1),
                                                        " uses)"));
      }
      labels = BlobMap(s.Text(4));
    }
    ASSIGN_OR_RETURN(Stmt use, c.Prepare("UPDATE tokens SET uses = uses + 1 WHERE id = ?"));
    RETURN_IF_ERROR(use.Bind(1, a.token_id).Exec());
    ASSIGN_OR_RETURN(auto existing, LoadEndpoint(c, a.endpoint_id, a.now_ms, options_));
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
                                         "cert_serial = ?, last_seen_ms = ?, token_id = ? "
                                         "WHERE id = ?"));
      RETURN_IF_ERROR(s.BindBlob(1, a.inventory.SerializeAsString())
                          .Bind(2, a.inventory.hostname())
                          .Bind(3, a.cert_serial)
                          .Bind(4, a.now_ms)
                          .Bind(5, a.token_id)
                          .Bind(6, a.endpoint_id)
                          .Exec());
      RETURN_IF_ERROR(SetState(c, a.endpoint_id, state, detail.empty() ? "re-enrolled" : detail,
                               existing->error_class(), a.now_ms));
    } else {
      v1::EndpointState state = ClassifyOs(v1::ENDPOINT_STATE_ENROLLED, a.inventory, &detail);
      ASSIGN_OR_RETURN(Stmt s,
                       c.Prepare("INSERT INTO endpoints(id, hostname, inventory, labels, state, "
                                 "state_detail, cert_serial, last_seen_ms, enrolled_ms, token_id) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
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
  absl::Status st = writer_->Run([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(auto e, LoadEndpoint(c, endpoint_id, now_ms, options_));
    if (!e) return absl::NotFoundError(absl::StrCat("endpoint ", endpoint_id, " is not enrolled"));
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("UPDATE endpoints SET inventory = ?, hostname = ?, "
                                       "last_seen_ms = ? WHERE id = ?"));
    RETURN_IF_ERROR(s.BindBlob(1, inventory.SerializeAsString())
                        .Bind(2, inventory.hostname())
                        .Bind(3, now_ms)
                        .Bind(4, endpoint_id)
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
  return writer_->Run([&](Connection& c) -> absl::Status {
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
  static const std::string sql = absl::StrCat(
      "SELECT ", kEndpointColumns,
      " FROM endpoints e LEFT JOIN runs r ON r.id = e.run_id "
      "WHERE (?1 = 0 OR e.state = ?1) AND e.id > ?2 AND (?3 = 0 OR e.last_seen_ms < ?3) "
      "AND (?4 = '' OR e.id IN (SELECT endpoint_id FROM campaign_members WHERE campaign_id = ?4)) "
      "ORDER BY e.id");
  int page_size = f.page_size <= 0 ? 100 : std::min(f.page_size, 1000);
  EndpointPage page;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare(sql.c_str()));
    s.Bind(1, f.state).Bind(2, f.page_token).Bind(3, f.not_seen_since_ms).Bind(4, f.campaign_id);
    while (static_cast<int>(page.endpoints.size()) <= page_size) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      v1::Endpoint e = EndpointFromRow(s, now_ms, options_);
      // OS and labels live in blobs: filtered here, past the SQL.
      if (f.product != v1::OS_PRODUCT_UNSPECIFIED && e.os().product() != f.product) continue;
      bool labels_match = true;
      for (const auto& [k, v] : f.labels) {
        auto it = e.labels().find(k);
        labels_match &= it != e.labels().end() && it->second == v;
      }
      if (labels_match) page.endpoints.push_back(std::move(e));
    }
    return absl::OkStatus();
  }));
  if (static_cast<int>(page.endpoints.size()) > page_size) {
    page.endpoints.pop_back();
    page.next_page_token = page.endpoints.back().id();
  }
  return page;
}

absl::StatusOr<v1::Endpoint> SqliteStore::SetLabels(const std::string& id,
                                                    const std::map<std::string, std::string>& set,
                                                    const std::vector<std::string>& remove,
                                                    int64_t now_ms) {
  v1::Endpoint out;
  absl::Status st = writer_->Run([&](Connection& c) -> absl::Status {
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
                               "j.timed_out_attempts FROM jobs j JOIN endpoints e "
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
      out.push_back(std::move(j));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::StartRunResponse> SqliteStore::StartRun(const RunSpec& spec) {
  v1::StartRunResponse out;
  absl::Status st = writer_->Run([&](Connection& c) -> absl::Status {
    out.Clear();
    out.set_run_id(spec.run_id);
    std::vector<std::string> ids = spec.endpoint_ids;
    if (spec.all_endpoints) {
      ids.clear();
      ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT id FROM endpoints ORDER BY id"));
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        ids.push_back(s.Text(0));
      }
    }
    {
      ASSIGN_OR_RETURN(Stmt s, c.Prepare("INSERT INTO runs(id, plan_name, purpose, params, "
                                         "created_ms, created_by, reboot_policy, artifacts) "
                                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
      RETURN_IF_ERROR(s.Bind(1, spec.run_id)
                          .Bind(2, spec.plan.name())
                          .Bind(3, spec.plan.purpose())
                          .BindBlob(4, MapBlob(spec.params))
                          .Bind(5, spec.now_ms)
                          .Bind(6, spec.created_by)
                          .BindBlob(7, spec.reboot_policy.SerializeAsString())
                          .BindBlob(8, MapBlob(spec.artifacts))
                          .Exec());
    }
    auto skip = [&](const std::string& id, const std::string& reason) {
      auto* s = out.add_skipped();
      s->set_endpoint_id(id);
      s->set_reason(reason);
    };
    for (const auto& id : ids) {
      ASSIGN_OR_RETURN(auto e, LoadEndpoint(c, id, spec.now_ms, options_));
      if (!e) {
        skip(id, "unknown endpoint");
        continue;
      }
      if (e->state() == v1::ENDPOINT_STATE_UNSUPPORTED) {
        skip(id, absl::StrCat("unsupported: ", e->state_detail()));
        continue;
      }
      if (e->state() == v1::ENDPOINT_STATE_REVOKED) {
        skip(id, "revoked");
        continue;
      }
      if (IsBusy(e->state())) {
        skip(id, absl::StrCat("busy with run ", e->run_id(), " (plan ", e->plan_name(), ")"));
        continue;
      }
      if (!e->has_os() || e->os().product() == v1::OS_PRODUCT_UNSPECIFIED) {
        skip(id, "has not reported its inventory yet");
        continue;
      }
      std::vector<int> steps = EffectiveSteps(spec.plan, e->os(), spec.params);
      if (steps.empty()) {
        skip(id, absl::StrCat("no step of plan ", spec.plan.name(), " applies to ",
                              OsDisplayName(e->os())));
        continue;
      }
      std::string missing;
      for (int i : steps) {
        for (const auto& a : spec.plan.steps(i).artifacts()) {
          if (!spec.artifacts.count(a) && missing.empty()) missing = a;
        }
      }
      if (!missing.empty()) {
        skip(id, absl::StrCat("artifact ", missing, " has not been uploaded"));
        continue;
      }
      ASSIGN_OR_RETURN(Stmt ins,
                       c.Prepare("INSERT INTO jobs(id, run_id, endpoint_id, seq, step_count, "
                                 "step, step_id, kind, state, max_attempts, backoff_s, "
                                 "timeout_s, updated_ms) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      int n = static_cast<int>(steps.size());
      for (int k = 0; k < n; ++k) {
        const v1::Step& step = spec.plan.steps(steps[k]);
        RETURN_IF_ERROR(ins.Bind(1, absl::StrCat(spec.run_id, ".", id, ".", k + 1))
                            .Bind(2, spec.run_id)
                            .Bind(3, id)
                            .Bind(4, k + 1)
                            .Bind(5, n)
                            .BindBlob(6, step.SerializeAsString())
                            .Bind(7, step.id())
                            .Bind(8, step.kind())
                            .Bind(9, k == 0 ? v1::JOB_STATE_QUEUED : v1::JOB_STATE_PENDING)
                            .Bind(10, StepMaxAttempts(step))
                            .Bind(11, StepBackoffSeconds(step))
                            .Bind(12, StepTimeoutSeconds(step))
                            .Bind(13, spec.now_ms)
                            .Exec());
      }
      ASSIGN_OR_RETURN(Stmt up, c.Prepare("UPDATE endpoints SET run_id = ?, current_seq = 0, "
                                          "step_count = ?, current_step_id = '' WHERE id = ?"));
      RETURN_IF_ERROR(up.Bind(1, spec.run_id).Bind(2, n).Bind(3, id).Exec());
      RETURN_IF_ERROR(SetState(c, id, v1::ENDPOINT_STATE_QUEUED,
                               absl::StrCat("plan ", spec.plan.name(), ": ", n, " steps queued"),
                               v1::ERROR_CLASS_UNSPECIFIED, spec.now_ms));
      out.add_started(id);
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

namespace {
absl::Status ApplyTransition(Connection& c, const std::string& endpoint_id,
                             const std::string& job_id, const std::string& run_id,
                             const JobView& view, const Transition& t, int exit_code,
                             const std::string& message, bool timed_out, int64_t now_ms,
                             bool reboot = false, const std::string& reboot_kb = "");
}  // namespace

absl::StatusOr<LeaseResult> SqliteStore::LeaseNextJob(const std::string& endpoint_id,
                                                      int64_t now_ms) {
  static const char* kNextJob =
      "SELECT id FROM jobs WHERE endpoint_id = ? AND state IN (2, 3) ORDER BY seq LIMIT 1";
  // Most polls find nothing: answer those from a reader, without the writer.
  bool any = false;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare(kNextJob));
    s.Bind(1, endpoint_id);
    ASSIGN_OR_RETURN(any, s.Step());
    return absl::OkStatus();
  }));
  LeaseResult out;
  if (!any) return out;
  absl::Status st = writer_->Run([&](Connection& c) -> absl::Status {
    out = LeaseResult();
    ASSIGN_OR_RETURN(Stmt s,
                     c.Prepare("SELECT j.id, j.run_id, j.seq, j.step_count, j.step, j.state, "
                               "j.attempt, j.not_before_ms, j.timeout_s, r.plan_name, r.purpose, "
                               "r.params, j.after_reboot, j.reboot_kb, r.reboot_policy, "
                               "r.artifacts, e.inventory, e.reboot_allowed, j.max_attempts, "
                               "j.backoff_s, j.step_id "
                               "FROM jobs j JOIN runs r ON r.id = j.run_id "
                               "JOIN endpoints e ON e.id = j.endpoint_id "
                               "WHERE j.endpoint_id = ? AND j.state IN (2, 3) "
                               "ORDER BY j.seq LIMIT 1"));
    s.Bind(1, endpoint_id);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::OkStatus();
    auto state = static_cast<v1::JobState>(s.Int(5));
    int64_t not_before = s.Int(7);
    if (state == v1::JOB_STATE_QUEUED && not_before > now_ms) {
      out.retry_after_ms = not_before - now_ms;
      return absl::OkStatus();
    }
    LeasedJob lj;
    v1::Job& job = lj.job;
    job.set_job_id(s.Text(0));
    job.set_run_id(s.Text(1));
    job.set_seq(static_cast<int32_t>(s.Int(2)));
    job.set_step_count(static_cast<int32_t>(s.Int(3)));
    job.mutable_step()->ParseFromString(s.Text(4));
    job.set_attempt(static_cast<int32_t>(s.Int(6)));
    job.set_lease_expires_unix_ms(now_ms + s.Int(8) * 1000 + options_.lease_grace_ms);
    lj.plan_name = s.Text(9);
    job.set_plan_name(lj.plan_name);
    lj.purpose = static_cast<v1::PlanPurpose>(s.Int(10));
    lj.params = BlobMap(s.Text(11));
    bool after_reboot = state == v1::JOB_STATE_QUEUED && s.Int(12) != 0;
    std::string reboot_kb = s.Text(13);
    v1::RebootPolicy policy;
    policy.ParseFromString(s.Text(14));
    std::map<std::string, std::string> artifacts = BlobMap(s.Text(15));
    v1::Inventory inventory;
    inventory.ParseFromString(s.Text(16));
    bool reboot_allowed = s.Int(17) != 0;

    if (after_reboot && inventory.pending_reboot()) {
      // The previous step asked for a reboot that has not happened yet.
      int64_t opens_in = 0;
      if (policy.mode() == v1::RebootPolicy::MODE_OPERATOR && !reboot_allowed) {
        return SetState(c, endpoint_id, v1::ENDPOINT_STATE_WAITING_REBOOT,
                        "waiting for an operator to allow the reboot", v1::ERROR_CLASS_UNSPECIFIED,
                        now_ms);
      }
      if (!InRebootWindow(policy, now_ms, &opens_in)) {
        out.retry_after_ms = std::min<int64_t>(opens_in, 60'000);
        return SetState(c, endpoint_id, v1::ENDPOINT_STATE_WAITING_REBOOT,
                        absl::StrCat("waiting for the maintenance window (reboot in ",
                                     opens_in / 60'000, " min)"),
                        v1::ERROR_CLASS_UNSPECIFIED, now_ms);
      }
      out.reboot = true;
      return SetState(c, endpoint_id, v1::ENDPOINT_STATE_WAITING_REBOOT, "rebooting",
                      v1::ERROR_CLASS_UNSPECIFIED, now_ms);
    }
    if (after_reboot && !reboot_kb.empty() &&
        std::find(inventory.installed_kbs().begin(), inventory.installed_kbs().end(), reboot_kb) ==
            inventory.installed_kbs().end()) {
      // Rebooted, but the update that needed it did not take: this step must not run.
      JobView view;
      view.attempt = job.attempt();
      view.max_attempts = job.attempt();  // not retryable as such: rerun the plan
      view.seq = job.seq();
      view.step_count = job.step_count();
      view.step_id = s.Text(20);
      view.purpose = lj.purpose;
      std::string msg = absl::StrCat(reboot_kb, " is still not installed after the reboot");
      Transition t = Decide(view, {v1::STEP_OUTCOME_FAILED, v1::ERROR_CLASS_CHECK_FAILED, 0, msg});
      return ApplyTransition(c, endpoint_id, job.job_id(), job.run_id(), view, t, 0, msg, false,
                             now_ms);
    }
    for (const auto& name : job.step().artifacts()) {
      auto* a = job.add_artifacts();
      a->set_name(name);
      a->set_sha256(artifacts[name]);
    }
    if (state == v1::JOB_STATE_QUEUED) {
      // Everything the remaining steps need, so the agent stages it all first.
      ASSIGN_OR_RETURN(Stmt rest, c.Prepare("SELECT step FROM jobs WHERE run_id = ? AND "
                                            "endpoint_id = ? AND seq >= ? ORDER BY seq"));
      rest.Bind(1, job.run_id()).Bind(2, endpoint_id).Bind(3, job.seq());
      std::set<std::string> staged;
      while (true) {
        ASSIGN_OR_RETURN(bool more, rest.Step());
        if (!more) break;
        v1::Step later;
        later.ParseFromString(rest.Text(0));
        for (const auto& name : later.artifacts()) {
          if (!staged.insert(name).second) continue;
          auto* a = job.add_stage();
          a->set_name(name);
          a->set_sha256(artifacts[name]);
        }
      }
    }
    ASSIGN_OR_RETURN(Stmt up, c.Prepare("UPDATE jobs SET state = 3, lease_expires_ms = ?, "
                                        "after_reboot = 0, updated_ms = ? WHERE id = ?"));
    RETURN_IF_ERROR(
        up.Bind(1, job.lease_expires_unix_ms()).Bind(2, now_ms).Bind(3, job.job_id()).Exec());
    if (state == v1::JOB_STATE_QUEUED) {
      ASSIGN_OR_RETURN(Stmt e, c.Prepare("UPDATE endpoints SET current_seq = ?, "
                                         "current_step_id = ?, last_seen_ms = ?, "
                                         "reboot_allowed = 0 WHERE id = ?"));
      RETURN_IF_ERROR(e.Bind(1, job.seq())
                          .Bind(2, job.step().id())
                          .Bind(3, now_ms)
                          .Bind(4, endpoint_id)
                          .Exec());
      RETURN_IF_ERROR(SetState(c, endpoint_id, RunningState(lj.purpose),
                               absl::StrCat("step ", job.seq(), "/", job.step_count(), " ",
                                            job.step().id(), " attempt ", job.attempt()),
                               v1::ERROR_CLASS_UNSPECIFIED, now_ms));
    }
    out.job = std::move(lj);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int> SqliteStore::AllowReboot(const std::vector<std::string>& ids) {
  int waiting = 0;
  absl::Status st = writer_->Run([&](Connection& c) -> absl::Status {
    waiting = 0;
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("UPDATE endpoints SET reboot_allowed = 1 WHERE id = ?"));
    for (const auto& id : ids) {
      RETURN_IF_ERROR(s.Bind(1, id).Exec());
      waiting += sqlite3_changes(c.raw());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return waiting;
}

absl::Status SqliteStore::PutArtifact(const v1::ArtifactInfo& a) {
  return writer_->Run([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("INSERT INTO artifacts(sha256, name, size, uploaded_ms, "
                                       "uploaded_by) VALUES (?, ?, ?, ?, ?) ON CONFLICT(sha256) "
                                       "DO UPDATE SET name = excluded.name, "
                                       "uploaded_ms = excluded.uploaded_ms, "
                                       "uploaded_by = excluded.uploaded_by"));
    return s.Bind(1, a.sha256())
        .Bind(2, a.name())
        .Bind(3, a.size())
        .Bind(4, a.uploaded_unix_ms())
        .Bind(5, a.uploaded_by())
        .Exec();
  });
}

absl::StatusOr<std::vector<v1::ArtifactInfo>> SqliteStore::ListArtifacts() {
  std::vector<v1::ArtifactInfo> out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT sha256, name, size, uploaded_ms, uploaded_by "
                                       "FROM artifacts ORDER BY name, uploaded_ms"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      v1::ArtifactInfo a;
      a.set_sha256(s.Text(0));
      a.set_name(s.Text(1));
      a.set_size(s.Int(2));
      a.set_uploaded_unix_ms(s.Int(3));
      a.set_uploaded_by(s.Text(4));
      out.push_back(std::move(a));
    }
    return absl::OkStatus();
  }));
  return out;
}

namespace {

// Applies a transition to a job and its endpoint.
// `reboot`: the step asked for a reboot before the next one; `reboot_kb` is the
// update it installed, which must have taken by then.
absl::Status ApplyTransition(Connection& c, const std::string& endpoint_id,
                             const std::string& job_id, const std::string& run_id,
                             const JobView& view, const Transition& t, int exit_code,
                             const std::string& message, bool timed_out, int64_t now_ms,
                             bool reboot, const std::string& reboot_kb) {
  ASSIGN_OR_RETURN(Stmt j, c.Prepare("UPDATE jobs SET state = ?, attempt = attempt + ?, "
                                     "not_before_ms = ?, lease_expires_ms = 0, exit_code = ?, "
                                     "message = ?, timed_out_attempts = timed_out_attempts + ?, "
                                     "updated_ms = ? WHERE id = ?"));
  RETURN_IF_ERROR(j.Bind(1, t.job_state)
                      .Bind(2, t.retry ? 1 : 0)
                      .Bind(3, t.retry ? now_ms + t.retry_delay_ms : 0)
                      .Bind(4, exit_code)
                      .Bind(5, message)
                      .Bind(6, timed_out ? 1 : 0)
                      .Bind(7, now_ms)
                      .Bind(8, job_id)
                      .Exec());
  if (t.queue_next) {
    ASSIGN_OR_RETURN(Stmt n, c.Prepare("UPDATE jobs SET state = 2, updated_ms = ?, "
                                       "after_reboot = ?, reboot_kb = ? "
                                       "WHERE run_id = ? AND endpoint_id = ? AND seq = ? "
                                       "AND state = 1"));
    RETURN_IF_ERROR(n.Bind(1, now_ms)
                        .Bind(2, reboot ? 1 : 0)
                        .Bind(3, reboot_kb)
                        .Bind(4, run_id)
                        .Bind(5, endpoint_id)
                        .Bind(6, view.seq + 1)
                        .Exec());
    if (sqlite3_changes(c.raw()) == 0) {  // the run was cancelled under this step
      return SetState(
          c, endpoint_id, v1::ENDPOINT_STATE_ENROLLED,
          absl::StrCat("run ", run_id, " cancelled after step ", view.seq, "/", view.step_count),
          v1::ERROR_CLASS_UNSPECIFIED, now_ms);
    }
  }
  return SetState(c, endpoint_id, t.endpoint_state, t.detail, t.error_class, now_ms);
}

}  // namespace

absl::StatusOr<ReportAck> SqliteStore::RecordReport(const std::string& endpoint_id,
                                                    const v1::ReportResultRequest& r,
                                                    int64_t now_ms) {
  ReportAck ack;
  absl::Status st = writer_->Run([&](Connection& c) -> absl::Status {
    ack = ReportAck();
    JobView view;
    std::string run_id;
    v1::JobState state;
    v1::Step step;
    {
      ASSIGN_OR_RETURN(Stmt s,
                       c.Prepare("SELECT j.endpoint_id, j.state, j.attempt, j.max_attempts, "
                                 "j.backoff_s, j.seq, j.step_count, j.step_id, j.run_id, "
                                 "r.purpose, j.step FROM jobs j JOIN runs r ON r.id = j.run_id "
                                 "WHERE j.id = ?"));
      s.Bind(1, r.job_id());
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return absl::NotFoundError(absl::StrCat("job ", r.job_id(), " not found"));
      if (s.Text(0) != endpoint_id) {
        return absl::PermissionDeniedError(
            absl::StrCat("job ", r.job_id(), " does not belong to this endpoint"));
      }
      state = static_cast<v1::JobState>(s.Int(1));
      view.attempt = static_cast<int>(s.Int(2));
      view.max_attempts = static_cast<int>(s.Int(3));
      view.backoff_s = static_cast<int>(s.Int(4));
      view.seq = static_cast<int>(s.Int(5));
      view.step_count = static_cast<int>(s.Int(6));
      view.step_id = s.Text(7);
      run_id = s.Text(8);
      view.purpose = static_cast<v1::PlanPurpose>(s.Int(9));
      step.ParseFromString(s.Text(10));
    }
    {
      ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT 1 FROM reports WHERE job_id = ? AND attempt = ?"));
      s.Bind(1, r.job_id()).Bind(2, r.attempt());
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (row) {
        ack.duplicate = true;
        return absl::OkStatus();
      }
    }
    ack.stale = state != v1::JOB_STATE_LEASED || view.attempt != r.attempt();
    {
      ASSIGN_OR_RETURN(Stmt s,
                       c.Prepare("INSERT INTO reports(job_id, attempt, endpoint_id, outcome, "
                                 "exit_code, error_class, message, output_tail, duration_ms, "
                                 "applied, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      RETURN_IF_ERROR(s.Bind(1, r.job_id())
                          .Bind(2, r.attempt())
                          .Bind(3, endpoint_id)
                          .Bind(4, r.outcome())
                          .Bind(5, r.exit_code())
                          .Bind(6, r.error_class())
                          .Bind(7, r.message())
                          .Bind(8, r.output_tail())
                          .Bind(9, r.duration_ms())
                          .Bind(10, ack.stale ? 0 : 1)
                          .Bind(11, now_ms)
                          .Exec());
    }
    if (r.has_inventory()) {
      RETURN_IF_ERROR(NoteNonce(c, endpoint_id, r.inventory(), now_ms));
      ASSIGN_OR_RETURN(Stmt s, c.Prepare("UPDATE endpoints SET inventory = ?, last_seen_ms = ? "
                                         "WHERE id = ?"));
      RETURN_IF_ERROR(s.BindBlob(1, r.inventory().SerializeAsString())
                          .Bind(2, now_ms)
                          .Bind(3, endpoint_id)
                          .Exec());
    }
    if (ack.stale) return absl::OkStatus();
    StepResult result{r.outcome(), r.error_class(), r.exit_code(), r.message()};
    Transition t = Decide(view, result);
    bool reboot = r.outcome() == v1::STEP_OUTCOME_REBOOT_REQUIRED;
    return ApplyTransition(c, endpoint_id, r.job_id(), run_id, view, t, r.exit_code(), r.message(),
                           false, now_ms, reboot, reboot ? step.install_update().kb() : "");
  });
  if (!st.ok()) return st;
  return ack;
}

absl::StatusOr<std::vector<std::string>> SqliteStore::ExpireLeases(int64_t now_ms) {
  std::vector<std::string> requeued;
  absl::Status st = writer_->Run([&](Connection& c) -> absl::Status {
    requeued.clear();
    struct Expired {
      std::string job_id, endpoint_id, run_id;
      JobView view;
    };
    std::vector<Expired> expired;
    {
      ASSIGN_OR_RETURN(Stmt s,
                       c.Prepare("SELECT j.id, j.endpoint_id, j.run_id, j.attempt, "
                                 "j.max_attempts, j.backoff_s, j.seq, j.step_count, j.step_id, "
                                 "r.purpose FROM jobs j JOIN runs r ON r.id = j.run_id "
                                 "WHERE j.state = 3 AND j.lease_expires_ms < ?"));
      s.Bind(1, now_ms);
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        Expired e{s.Text(0), s.Text(1), s.Text(2), {}};
        e.view.attempt = static_cast<int>(s.Int(3));
        e.view.max_attempts = static_cast<int>(s.Int(4));
        e.view.backoff_s = static_cast<int>(s.Int(5));
        e.view.seq = static_cast<int>(s.Int(6));
        e.view.step_count = static_cast<int>(s.Int(7));
        e.view.step_id = s.Text(8);
        e.view.purpose = static_cast<v1::PlanPurpose>(s.Int(9));
        expired.push_back(std::move(e));
      }
    }
    for (const auto& e : expired) {
      StepResult result{v1::STEP_OUTCOME_FAILED, v1::ERROR_CLASS_TIMEOUT, 0,
                        "lease expired without a report"};
      Transition t = Decide(e.view, result);
      RETURN_IF_ERROR(ApplyTransition(c, e.endpoint_id, e.job_id, e.run_id, e.view, t, 0,
                                      result.message, true, now_ms));
      if (t.retry) requeued.push_back(e.endpoint_id);
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return requeued;
}

namespace {

// The last onboarding run of each endpoint in `state` (and verified before `before_ms`).
absl::StatusOr<std::vector<Store::DueVerify>> LastOnboardRuns(Connection& c,
                                                              v1::EndpointState state,
                                                              int64_t before_ms, int limit) {
  ASSIGN_OR_RETURN(Stmt s,
                   c.Prepare("SELECT e.id, r.plan_name, r.params FROM endpoints e "
                             "JOIN runs r ON r.id = (SELECT j.run_id FROM jobs j JOIN runs r2 "
                             "ON r2.id = j.run_id WHERE j.endpoint_id = e.id AND r2.purpose = 1 "
                             "ORDER BY r2.created_ms DESC LIMIT 1) "
                             "WHERE e.state = ? AND e.verified_ms < ? LIMIT ?"));
  s.Bind(1, state).Bind(2, before_ms).Bind(3, limit);
  std::vector<Store::DueVerify> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back({s.Text(0), s.Text(1), BlobMap(s.Text(2))});
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<Store::DueVerify>> SqliteStore::DueForVerify(int64_t before_ms,
                                                                        int limit) {
  std::vector<DueVerify> out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(out, LastOnboardRuns(c, v1::ENDPOINT_STATE_ONBOARDED, before_ms, limit));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<Store::DueVerify>> SqliteStore::Drifted(int limit) {
  std::vector<DueVerify> out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(out, LastOnboardRuns(c, v1::ENDPOINT_STATE_DRIFTED, INT64_MAX, limit));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status SqliteStore::CancelRun(const std::string& run_id, const std::string& endpoint_id,
                                    int64_t now_ms) {
  return writer_->Run([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("UPDATE jobs SET state = 8, updated_ms = ? WHERE "
                                       "run_id = ? AND endpoint_id = ? AND state IN (1, 2)"));
    RETURN_IF_ERROR(s.Bind(1, now_ms).Bind(2, run_id).Bind(3, endpoint_id).Exec());
    if (sqlite3_changes(c.raw()) == 0) return absl::OkStatus();
    ASSIGN_OR_RETURN(Stmt leased, c.Prepare("SELECT 1 FROM jobs WHERE run_id = ? AND "
                                            "endpoint_id = ? AND state = 3"));
    leased.Bind(1, run_id).Bind(2, endpoint_id);
    ASSIGN_OR_RETURN(bool running, leased.Step());
    if (running) return absl::OkStatus();  // its report ends the run
    return SetState(c, endpoint_id, v1::ENDPOINT_STATE_ENROLLED,
                    absl::StrCat("run ", run_id, " cancelled"), v1::ERROR_CLASS_UNSPECIFIED,
                    now_ms);
  });
}

namespace {

absl::Status SaveMembers(Connection& c, const std::string& campaign_id,
                         const std::vector<v1::CampaignMember>& members) {
  ASSIGN_OR_RETURN(Stmt s,
                   c.Prepare("INSERT INTO campaign_members(campaign_id, endpoint_id, wave, "
                             "state, run_id, reason, error_class, started_ms) VALUES "
                             "(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(campaign_id, endpoint_id) DO "
                             "UPDATE SET wave = excluded.wave, state = excluded.state, "
                             "run_id = excluded.run_id, reason = excluded.reason, "
                             "error_class = excluded.error_class, "
                             "started_ms = excluded.started_ms"));
  for (const auto& m : members) {
    RETURN_IF_ERROR(s.Bind(1, campaign_id)
                        .Bind(2, m.endpoint_id())
                        .Bind(3, m.wave())
                        .Bind(4, m.state())
                        .Bind(5, m.run_id())
                        .Bind(6, m.reason())
                        .Bind(7, m.error_class())
                        .Bind(8, m.started_unix_ms())
                        .Exec());
  }
  return absl::OkStatus();
}

v1::Campaign Spec(const v1::Campaign& c) {
  v1::Campaign spec = c;
  spec.clear_counters();
  spec.clear_waves();
  spec.clear_state();
  spec.clear_state_reason();
  spec.clear_current_wave();
  spec.clear_eta_unix_ms();
  spec.clear_acknowledged_failures();
  return spec;
}

}  // namespace

absl::Status SqliteStore::CreateCampaign(const v1::Campaign& campaign,
                                         const std::vector<v1::CampaignMember>& members) {
  return writer_->Run([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("INSERT INTO campaigns(id, spec, state, state_reason, "
                                       "current_wave, created_ms) VALUES (?, ?, ?, ?, ?, ?)"));
    RETURN_IF_ERROR(s.Bind(1, campaign.id())
                        .BindBlob(2, Spec(campaign).SerializeAsString())
                        .Bind(3, campaign.state())
                        .Bind(4, campaign.state_reason())
                        .Bind(5, campaign.current_wave())
                        .Bind(6, campaign.created_unix_ms())
                        .Exec());
    return SaveMembers(c, campaign.id(), members);
  });
}

absl::StatusOr<std::vector<v1::Campaign>> SqliteStore::ListCampaigns() {
  std::vector<v1::Campaign> out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT spec, state, state_reason, current_wave, "
                                       "acknowledged_failures FROM campaigns "
                                       "ORDER BY created_ms, id"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      v1::Campaign camp;
      camp.ParseFromString(s.Text(0));
      camp.set_state(static_cast<v1::CampaignState>(s.Int(1)));
      camp.set_state_reason(s.Text(2));
      camp.set_current_wave(static_cast<int32_t>(s.Int(3)));
      camp.set_acknowledged_failures(static_cast<int32_t>(s.Int(4)));
      out.push_back(std::move(camp));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<v1::CampaignMember>> SqliteStore::ListMembers(
    const std::string& campaign_id) {
  std::vector<v1::CampaignMember> out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT endpoint_id, wave, state, run_id, reason, "
                                       "error_class, started_ms FROM campaign_members "
                                       "WHERE campaign_id = ? ORDER BY wave, endpoint_id"));
    s.Bind(1, campaign_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      v1::CampaignMember m;
      m.set_endpoint_id(s.Text(0));
      m.set_wave(static_cast<int32_t>(s.Int(1)));
      m.set_state(static_cast<v1::MemberState>(s.Int(2)));
      m.set_run_id(s.Text(3));
      m.set_reason(s.Text(4));
      m.set_error_class(static_cast<v1::ErrorClass>(s.Int(5)));
      m.set_started_unix_ms(s.Int(6));
      out.push_back(std::move(m));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status SqliteStore::SaveCampaign(const v1::Campaign& campaign,
                                       const std::vector<v1::CampaignMember>& members) {
  return writer_->Run([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("UPDATE campaigns SET state = ?, state_reason = ?, "
                                       "current_wave = ?, acknowledged_failures = ? WHERE id = ?"));
    RETURN_IF_ERROR(s.Bind(1, campaign.state())
                        .Bind(2, campaign.state_reason())
                        .Bind(3, campaign.current_wave())
                        .Bind(4, campaign.acknowledged_failures())
                        .Bind(5, campaign.id())
                        .Exec());
    if (sqlite3_changes(c.raw()) == 0) {
      return absl::NotFoundError(absl::StrCat("campaign ", campaign.id(), " not found"));
    }
    return SaveMembers(c, campaign.id(), members);
  });
}

absl::Status SqliteStore::RecordCert(const CertRecord& cert) {
  return writer_->Run([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("INSERT INTO certs(serial, subject, role, issued_ms, "
                                       "not_after_ms, revoked_ms) VALUES (?, ?, ?, ?, ?, ?) "
                                       "ON CONFLICT(serial) DO UPDATE SET revoked_ms = "
                                       "excluded.revoked_ms"));
    RETURN_IF_ERROR(s.Bind(1, cert.serial)
                        .Bind(2, cert.subject)
                        .Bind(3, cert.role)
                        .Bind(4, cert.issued_ms)
                        .Bind(5, cert.not_after_ms)
                        .Bind(6, cert.revoked_ms)
                        .Exec());
    if (cert.role != "agent" || cert.revoked_ms != 0) return absl::OkStatus();
    ASSIGN_OR_RETURN(Stmt e, c.Prepare("UPDATE endpoints SET cert_serial = ? WHERE id = ?"));
    return e.Bind(1, cert.serial).Bind(2, cert.subject).Exec();
  });
}

absl::StatusOr<std::vector<CertRecord>> SqliteStore::ListCerts() {
  std::vector<CertRecord> out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT serial, subject, role, issued_ms, not_after_ms, "
                                       "revoked_ms FROM certs ORDER BY issued_ms, serial"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back({s.Text(0), s.Text(1), s.Text(2), s.Int(3), s.Int(4), s.Int(5)});
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<CertRecord> SqliteStore::RevokeCert(const std::string& serial, int64_t now_ms) {
  CertRecord out;
  absl::Status st = writer_->Run([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT serial, subject, role, issued_ms, not_after_ms, "
                                       "revoked_ms FROM certs WHERE serial = ?"));
    s.Bind(1, serial);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::NotFoundError(absl::StrCat("certificate ", serial, " not found"));
    out = {s.Text(0), s.Text(1), s.Text(2), s.Int(3), s.Int(4), s.Int(5)};
    if (out.revoked_ms != 0) return absl::OkStatus();
    out.revoked_ms = now_ms;
    ASSIGN_OR_RETURN(Stmt up, c.Prepare("UPDATE certs SET revoked_ms = ? WHERE serial = ?"));
    RETURN_IF_ERROR(up.Bind(1, now_ms).Bind(2, serial).Exec());
    if (out.role != "agent") return absl::OkStatus();
    // The endpoint is revoked when its current certificate is.
    ASSIGN_OR_RETURN(Stmt cur,
                     c.Prepare("SELECT 1 FROM endpoints WHERE id = ? AND cert_serial = ?"));
    cur.Bind(1, out.subject).Bind(2, serial);
    ASSIGN_OR_RETURN(bool current, cur.Step());
    if (!current) return absl::OkStatus();
    return SetState(c, out.subject, v1::ENDPOINT_STATE_REVOKED,
                    absl::StrCat("certificate ", serial, " revoked"), v1::ERROR_CLASS_UNSPECIFIED,
                    now_ms);
  });
  if (!st.ok()) return st;
  return out;
}

absl::Status SqliteStore::AppendAudit(const v1::AuditEntry& a) {
  return writer_->Run([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("INSERT INTO audit(at_ms, who, role, cert_serial, method, "
                                       "request_json, result_code, result_message) "
                                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
    return s.Bind(1, a.at_unix_ms())
        .Bind(2, a.who())
        .Bind(3, a.role())
        .Bind(4, a.cert_serial())
        .Bind(5, a.method())
        .Bind(6, a.request_json())
        .Bind(7, a.result_code())
        .Bind(8, a.result_message())
        .Exec();
  });
}

absl::StatusOr<v1::ListAuditResponse> SqliteStore::ListAudit(const v1::ListAuditRequest& req) {
  v1::ListAuditResponse out;
  int limit = req.page_size() <= 0 ? 100 : std::min(req.page_size(), 1000);
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s,
                     c.Prepare("SELECT id, at_ms, who, role, cert_serial, method, request_json, "
                               "result_code, result_message FROM audit WHERE "
                               "(?1 = '' OR who = ?1) AND (?2 = '' OR method = ?2) AND "
                               "at_ms >= ?3 AND (?4 = 0 OR id < ?4) ORDER BY id DESC LIMIT ?5"));
    s.Bind(1, req.who())
        .Bind(2, req.method())
        .Bind(3, req.since_unix_ms())
        .Bind(4, req.before_id());
    s.Bind(5, limit + 1);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      v1::AuditEntry* a = out.add_entries();
      a->set_id(s.Int(0));
      a->set_at_unix_ms(s.Int(1));
      a->set_who(s.Text(2));
      a->set_role(s.Text(3));
      a->set_cert_serial(s.Text(4));
      a->set_method(s.Text(5));
      a->set_request_json(s.Text(6));
      a->set_result_code(static_cast<int32_t>(s.Int(7)));
      a->set_result_message(s.Text(8));
    }
    return absl::OkStatus();
  }));
  if (out.entries_size() > limit) {
    out.mutable_entries()->RemoveLast();
    out.set_next_before_id(out.entries(limit - 1).id());
  }
  return out;
}

absl::StatusOr<std::vector<v1::HistoryEntry>> SqliteStore::History(const std::string& id) {
  std::vector<v1::HistoryEntry> out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt e, c.Prepare("SELECT at_ms, state, detail FROM events "
                                       "WHERE endpoint_id = ? ORDER BY id"));
    e.Bind(1, id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, e.Step());
      if (!row) break;
      v1::HistoryEntry h;
      h.set_at_unix_ms(e.Int(0));
      h.set_state(static_cast<v1::EndpointState>(e.Int(1)));
      h.set_detail(e.Text(2));
      out.push_back(std::move(h));
    }
    ASSIGN_OR_RETURN(Stmt r, c.Prepare("SELECT received_ms, job_id, attempt, outcome, exit_code, "
                                       "duration_ms, output_tail, message, applied FROM reports "
                                       "WHERE endpoint_id = ?"));
    r.Bind(1, id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, r.Step());
      if (!row) break;
      v1::HistoryEntry h;
      h.set_at_unix_ms(r.Int(0));
      h.set_job_id(r.Text(1));
      h.set_attempt(static_cast<int32_t>(r.Int(2)));
      h.set_outcome(static_cast<v1::StepOutcome>(r.Int(3)));
      h.set_exit_code(static_cast<int32_t>(r.Int(4)));
      h.set_duration_ms(r.Int(5));
      h.set_output_tail(r.Text(6));
      h.set_detail(r.Text(7));
      h.set_applied(r.Int(8) != 0);
      out.push_back(std::move(h));
    }
    return absl::OkStatus();
  }));
  std::stable_sort(out.begin(), out.end(),
                   [](const v1::HistoryEntry& a, const v1::HistoryEntry& b) {
                     return a.at_unix_ms() < b.at_unix_ms();
                   });
  return out;
}

absl::Status SqliteStore::PutSecret(const std::string& name, const std::string& sealed,
                                    int64_t now_ms) {
  return writer_->Run([&](Connection& c) -> absl::Status {
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

}  // namespace purser::db
