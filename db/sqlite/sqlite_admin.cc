// Artifacts, certificates, the audit log and endpoint history.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "db/sqlite/rows.h"
#include "db/sqlite/sqlite_store.h"
#include "shared/status_macros.h"

namespace purser::db {

using namespace sqlite;  // NOLINT: the shared row helpers

absl::Status SqliteStore::PutArtifact(const v1::ArtifactInfo& a) {
  return Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s,
                     c.Prepare("INSERT INTO artifacts(sha256, name, size, uploaded_ms, "
                               "uploaded_by) VALUES (?, ?, ?, ?, ?) ON CONFLICT(name, sha256) "
                               "DO UPDATE SET uploaded_ms = excluded.uploaded_ms, "
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

absl::Status SqliteStore::RecordCert(const CertRecord& cert) {
  return Write([&](Connection& c) -> absl::Status {
    if (cert.role == "agent") {
      // A renewal that raced the endpoint's revocation gets nothing.
      ASSIGN_OR_RETURN(Stmt r, c.Prepare("SELECT 1 FROM endpoints WHERE id = ? AND state = 13"));
      r.Bind(1, cert.subject);
      ASSIGN_OR_RETURN(bool revoked, r.Step());
      if (revoked) {
        return absl::PermissionDeniedError(
            absl::StrCat("endpoint ", cert.subject, " is revoked: no certificate is issued to it"));
      }
    }
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

absl::StatusOr<std::vector<CertRecord>> SqliteStore::RevokeCert(const std::string& serial,
                                                                int64_t now_ms) {
  std::vector<CertRecord> out;
  absl::Status st = Write([&](Connection& c) -> absl::Status {
    out.clear();
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT serial, subject, role, issued_ms, not_after_ms, "
                                       "revoked_ms FROM certs WHERE serial = ?"));
    s.Bind(1, serial);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::NotFoundError(absl::StrCat("certificate ", serial, " not found"));
    CertRecord named{s.Text(0), s.Text(1), s.Text(2), s.Int(3), s.Int(4), s.Int(5)};
    if (named.revoked_ms == 0) named.revoked_ms = now_ms;
    out.push_back(named);
    if (named.role == "agent") {
      // An agent's certificates all speak for the same key: renewed ones too.
      ASSIGN_OR_RETURN(Stmt others, c.Prepare("SELECT serial, subject, role, issued_ms, "
                                              "not_after_ms FROM certs WHERE subject = ? AND "
                                              "role = 'agent' AND revoked_ms = 0 AND serial != ?"));
      others.Bind(1, named.subject).Bind(2, serial);
      while (true) {
        ASSIGN_OR_RETURN(bool more, others.Step());
        if (!more) break;
        out.push_back(
            {others.Text(0), others.Text(1), others.Text(2), others.Int(3), others.Int(4), now_ms});
      }
    }
    ASSIGN_OR_RETURN(Stmt up, c.Prepare("UPDATE certs SET revoked_ms = ? WHERE serial = ? AND "
                                        "revoked_ms = 0"));
    for (const auto& cert : out) RETURN_IF_ERROR(up.Bind(1, now_ms).Bind(2, cert.serial).Exec());
    if (named.role != "agent") return absl::OkStatus();
    // Its work stops here: nothing more is leased to it, nothing it reports applies.
    ASSIGN_OR_RETURN(Stmt stop, c.Prepare("UPDATE jobs SET state = 8, updated_ms = ? WHERE "
                                          "endpoint_id = ? AND state IN (1, 2, 3)"));
    RETURN_IF_ERROR(stop.Bind(1, now_ms).Bind(2, named.subject).Exec());
    ASSIGN_OR_RETURN(auto e, LoadEndpoint(c, named.subject, now_ms, options_));
    if (!e || e->state() == v1::ENDPOINT_STATE_REVOKED) return absl::OkStatus();
    return SetState(c, named.subject, v1::ENDPOINT_STATE_REVOKED,
                    absl::StrCat("certificate ", serial, " revoked"), v1::ERROR_CLASS_UNSPECIFIED,
                    now_ms);
  });
  if (!st.ok()) return st;
  return out;
}

absl::Status SqliteStore::AppendAudit(const v1::AuditEntry& a) {
  return writer_->Run([&](Connection& c) { return InsertAudit(c, a); });
}

absl::Status SqliteStore::SetAuditResult(int64_t row_id, int32_t code, const std::string& message) {
  return writer_->Run([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("UPDATE audit SET result_code = ?, result_message = ? "
                                       "WHERE id = ?"));
    return s.Bind(1, code).Bind(2, message).Bind(3, row_id).Exec();
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
    ASSIGN_OR_RETURN(Stmt e, c.Prepare("SELECT at_ms, state, detail, error_class FROM events "
                                       "WHERE endpoint_id = ? ORDER BY id"));
    e.Bind(1, id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, e.Step());
      if (!row) break;
      v1::HistoryEntry h;
      h.set_at_unix_ms(e.Int(0));
      h.set_state(static_cast<v1::EndpointState>(e.Int(1)));
      h.set_detail(e.Text(2));
      h.set_error_class(static_cast<v1::ErrorClass>(e.Int(3)));
      out.push_back(std::move(h));
    }
    ASSIGN_OR_RETURN(Stmt r, c.Prepare("SELECT received_ms, job_id, attempt, outcome, exit_code, "
                                       "duration_ms, output_tail, message, applied, error_class "
                                       "FROM reports WHERE endpoint_id = ?"));
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
      h.set_error_class(static_cast<v1::ErrorClass>(r.Int(9)));
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

}  // namespace purser::db
