// Who is calling: read from the verified peer certificate, never from a
// request field. Agents are OU=agent with CN=endpoint id; operators carry
// their role (admin > operator > viewer) in OU.
#pragma once
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/security/auth_context.h"
#include "shared/clock.h"

namespace purser::server {

enum class Role { kViewer = 1, kOperator = 2, kAdmin = 3 };

struct Caller {
  bool is_agent = false;
  std::string id;      // endpoint id, or operator name
  std::string role;    // "agent", "admin", "operator", "viewer"
  std::string serial;  // certificate serial, hex
  int64_t not_after_ms = 0;
};

class Authorizer {
 public:
  explicit Authorizer(const Clock* clock = RealClock::Get()) : clock_(clock) {}
  // The caller of `full_method`, held to that method's rule (access.h):
  // UNAUTHENTICATED without a certificate, PERMISSION_DENIED for the wrong
  // kind of caller, too low a role, a revoked or expired certificate, or a
  // method without a rule. Enrollment methods return an empty caller.
  absl::StatusOr<Caller> Authorize(const grpc::AuthContext& ctx, absl::string_view full_method);
  // Whoever the certificate names, valid or not: for the audit log of refusals.
  Caller Peek(const grpc::AuthContext& ctx);

  // Whether a caller identified earlier may still go on: long streams ask
  // between messages, since a connection outlives revocation and expiry.
  absl::Status StillValid(const Caller& caller) const;
  void Revoke(const std::string& serial);
  bool IsRevoked(const std::string& serial) const;
  // Set before serving: client certificates must have been issued by this CA
  // itself. TLS accepts any chain to the root, and the root may have signed
  // other intermediates that are not this server's.
  void SetIssuer(std::string issuer_cert_pem) { issuer_pem_ = std::move(issuer_cert_pem); }

 private:
  // The caller of an agent method: UNAUTHENTICATED without a certificate,
  // PERMISSION_DENIED for an operator certificate or a revoked one.
  absl::StatusOr<Caller> Agent(const grpc::AuthContext& ctx);
  // The caller of an operator method needing at least `min`.
  absl::StatusOr<Caller> Operator(const grpc::AuthContext& ctx, Role min, absl::string_view method);

  // Whoever the certificate names, role aside (refused if revoked or expired).
  absl::StatusOr<Caller> Identify(const grpc::AuthContext& ctx);
  const Clock* clock_;
  std::string issuer_pem_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> revoked_ ABSL_GUARDED_BY(mu_);
  absl::StatusOr<Caller> Parse(const grpc::AuthContext& ctx);
  absl::flat_hash_map<std::string, Caller> cache_ ABSL_GUARDED_BY(mu_);  // PEM -> caller
};

}  // namespace purser::server
