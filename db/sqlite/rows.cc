// Row mapping and the state changes every store operation shares.
#include "db/sqlite/rows.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "shared/plan/platform.h"
#include "shared/status_macros.h"

namespace purser::db::sqlite {

const char kEndpointColumns[] =
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
  e.set_agent_arch(inv.agent_arch());
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

absl::Status InsertAudit(Connection& c, const v1::AuditEntry& a) {
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
}

absl::Status AddEvent(Connection& c, const std::string& endpoint_id, int64_t now_ms,
                      v1::EndpointState state, const std::string& detail,
                      v1::ErrorClass error_class) {
  ASSIGN_OR_RETURN(Stmt s, c.Prepare("INSERT INTO events(endpoint_id, at_ms, state, detail, "
                                     "error_class) VALUES (?, ?, ?, ?, ?)"));
  return s.Bind(1, endpoint_id)
      .Bind(2, now_ms)
      .Bind(3, state)
      .Bind(4, detail)
      .Bind(5, error_class)
      .Exec();
}

absl::Status EndInterruptedRun(Connection& c, const std::string& endpoint_id,
                               const std::string& run_id, const std::string& why, int64_t now_ms) {
  // What the run changed on the machine: its steps that succeeded, checks aside.
  ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT step_id FROM jobs WHERE run_id = ? AND "
                                     "endpoint_id = ? AND state = 4 AND kind != 4 ORDER BY seq"));
  s.Bind(1, run_id).Bind(2, endpoint_id);
  std::vector<std::string> applied;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    applied.push_back(s.Text(0));
  }
  if (applied.empty()) {
    return SetState(c, endpoint_id, v1::ENDPOINT_STATE_ENROLLED,
                    absl::StrCat(why, "; nothing was changed on the machine"),
                    v1::ERROR_CLASS_UNSPECIFIED, now_ms);
  }
  return SetState(c, endpoint_id, v1::ENDPOINT_STATE_INTERRUPTED,
                  absl::StrCat(why, " after applying ", absl::StrJoin(applied, ", ")),
                  v1::ERROR_CLASS_UNSPECIFIED, now_ms);
}

// Sets the endpoint's state and records the change in its timeline.
absl::Status SetState(Connection& c, const std::string& id, v1::EndpointState state,
                      const std::string& detail, v1::ErrorClass error_class, int64_t now_ms,
                      bool readmit) {
  // REVOKED is left only by a readmission: a late report, an expired lease or
  // a withdrawn run must not turn a revoked endpoint back into an enrollable one.
  ASSIGN_OR_RETURN(Stmt s, c.Prepare("UPDATE endpoints SET state = ?1, state_detail = ?2, "
                                     "error_class = ?3 WHERE id = ?4 AND (state != ?1 OR "
                                     "state_detail != ?2 OR error_class != ?3) AND "
                                     "(state != 13 OR ?5)"));
  RETURN_IF_ERROR(s.Bind(1, state)
                      .Bind(2, detail)
                      .Bind(3, error_class)
                      .Bind(4, id)
                      .Bind(5, readmit ? 1 : 0)
                      .Exec());
  if (sqlite3_changes(c.raw()) == 0) return absl::OkStatus();  // unchanged: no new event
  if (state == v1::ENDPOINT_STATE_ONBOARDED) {
    ASSIGN_OR_RETURN(Stmt v, c.Prepare("UPDATE endpoints SET verified_ms = ? WHERE id = ?"));
    RETURN_IF_ERROR(v.Bind(1, now_ms).Bind(2, id).Exec());
  }
  return AddEvent(c, id, now_ms, state, detail, error_class);
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
                                     "updated_ms = ?, error_class = ? WHERE id = ?"));
  RETURN_IF_ERROR(j.Bind(1, t.job_state)
                      .Bind(2, t.retry ? 1 : 0)
                      .Bind(3, t.retry ? now_ms + t.retry_delay_ms : 0)
                      .Bind(4, exit_code)
                      .Bind(5, message)
                      .Bind(6, timed_out ? 1 : 0)
                      .Bind(7, now_ms)
                      .Bind(8, t.error_class)
                      .Bind(9, job_id)
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
      return EndInterruptedRun(c, endpoint_id, run_id, absl::StrCat("run ", run_id, " cancelled"),
                               now_ms);
    }
  }
  return SetState(c, endpoint_id, t.endpoint_state, t.detail, t.error_class, now_ms);
}

}  // namespace purser::db::sqlite
