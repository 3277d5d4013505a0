// Shared by the SQLite store's files: endpoint rows, blobs of maps, and the
// state changes (with their timeline events) every operation makes.
#pragma once
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "db/sqlite/connection.h"
#include "db/state_machine.h"
#include "db/store.h"

namespace purser::db::sqlite {

// The endpoint columns EndpointFromRow reads, for "SELECT <them> FROM endpoints e LEFT JOIN runs
// r".
extern const char kEndpointColumns[];

std::string MapBlob(const std::map<std::string, std::string>& m);
std::map<std::string, std::string> BlobMap(const std::string& blob);
v1::Endpoint EndpointFromRow(const Stmt& s, int64_t now_ms, const StoreOptions& options);
absl::StatusOr<std::optional<v1::Endpoint>> LoadEndpoint(Connection& c, const std::string& id,
                                                         int64_t now_ms,
                                                         const StoreOptions& options);
// One audit row (the store's writes and AppendAudit share it).
absl::Status InsertAudit(Connection& c, const v1::AuditEntry& a);
// A run withdrawn or ended before its last step: ENROLLED when it changed
// nothing, INTERRUPTED naming the steps it applied otherwise.
absl::Status EndInterruptedRun(Connection& c, const std::string& endpoint_id,
                               const std::string& run_id, const std::string& why, int64_t now_ms);
absl::Status AddEvent(Connection& c, const std::string& endpoint_id, int64_t now_ms,
                      v1::EndpointState state, const std::string& detail,
                      v1::ErrorClass error_class = v1::ERROR_CLASS_UNSPECIFIED);
// Sets the endpoint's state; records the change in its timeline if it is one.
// Never leaves REVOKED unless `readmit` (an enrollment with a token naming it).
absl::Status SetState(Connection& c, const std::string& id, v1::EndpointState state,
                      const std::string& detail, v1::ErrorClass error_class, int64_t now_ms,
                      bool readmit = false);
// Flags a second agent installation presenting one endpoint's certificate.
absl::Status NoteNonce(Connection& c, const std::string& id, const v1::Inventory& inv,
                       int64_t now_ms);
// The state an OS puts an endpoint in (UNSUPPORTED, with why in *detail).
v1::EndpointState ClassifyOs(v1::EndpointState current, const v1::Inventory& inv,
                             std::string* detail);
// Applies a transition to a job and its endpoint. `reboot`: the step asked for
// a reboot before the next one; `reboot_kb` must have taken by then.
absl::Status ApplyTransition(Connection& c, const std::string& endpoint_id,
                             const std::string& job_id, const std::string& run_id,
                             const JobView& view, const Transition& t, int exit_code,
                             const std::string& message, bool timed_out, int64_t now_ms,
                             bool reboot = false, const std::string& reboot_kb = "");

}  // namespace purser::db::sqlite
