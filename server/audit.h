// The one audit path. Every call of an audited method (access.h) and every
// refused call of any method is recorded: who (from the certificate, even a
// revoked one), the request with secrets redacted, and the result. A change
// and its audit row commit in one transaction (db/audit_scope.h).
#pragma once
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "db/audit_scope.h"
#include "google/protobuf/message.h"
#include "grpcpp/security/auth_context.h"
#include "server/core.h"

namespace purser::server {

class CallAudit {
 public:
  // Opens the audit of one call on the calling thread: the call's first
  // store write from this thread carries the row.
  CallAudit(ServerCore* core, const std::string& full_method, const grpc::AuthContext& ctx,
            const google::protobuf::Message& req);
  // The call was refused by its access rule.
  void Refused(const absl::Status& why);
  // The call ended with `result`: recorded unless its row already committed
  // with the change it made.
  void Done(const absl::Status& result);

 private:
  v1::AuditEntry Entry() const;
  void Append(const absl::Status& result);

  ServerCore* core_;
  const std::string method_;
  const grpc::AuthContext& ctx_;
  const google::protobuf::Message& req_;
  const int64_t at_ms_;
  bool audited_;
  std::optional<db::AuditScope> scope_;
};

}  // namespace purser::server
