#include "server/authz.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/access.h"
#include "shared/status_macros.h"
#include "shared/x509.h"

namespace purser::server {
namespace {

int Rank(const std::string& role) {
  if (role == "admin") return static_cast<int>(Role::kAdmin);
  if (role == "operator") return static_cast<int>(Role::kOperator);
  if (role == "viewer") return static_cast<int>(Role::kViewer);
  return 0;
}

const char* RoleName(Role r) {
  switch (r) {
    case Role::kAdmin:
      return "admin";
    case Role::kOperator:
      return "operator";
    case Role::kViewer:
      return "viewer";
  }
  return "?";
}

}  // namespace

absl::StatusOr<Caller> Authorizer::Parse(const grpc::AuthContext& ctx) {
  auto pems = ctx.FindPropertyValues("x509_pem_cert");
  if (pems.empty()) {
    return absl::UnauthenticatedError("a client certificate is required for this method");
  }
  std::string pem(pems.front().data(), pems.front().size());
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(pem);
    if (it != cache_.end()) return it->second;
  }
  auto info = ParseCert(pem);
  if (!info.ok()) return absl::UnauthenticatedError("client certificate cannot be parsed");
  if (!issuer_pem_.empty() && !VerifyIssuedBy(pem, issuer_pem_).ok()) {
    return absl::UnauthenticatedError("client certificate was not issued by this server's CA");
  }
  Caller caller;
  caller.role = info->organizational_unit;
  caller.is_agent = caller.role == "agent";
  caller.id = info->common_name;
  caller.serial = info->serial_hex;
  caller.not_after_ms = info->not_after_ms;
  absl::MutexLock lock(&mu_);
  if (cache_.size() > 200'000) cache_.clear();
  cache_.emplace(pem, caller);
  return caller;
}

Caller Authorizer::Peek(const grpc::AuthContext& ctx) {
  auto caller = Parse(ctx);
  return caller.ok() ? *caller : Caller();
}

absl::StatusOr<Caller> Authorizer::Authorize(const grpc::AuthContext& ctx,
                                             absl::string_view full_method) {
  const MethodRule* rule = RuleFor(full_method);
  if (rule == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat(full_method, " has no access rule"));
  }
  absl::string_view method = full_method.substr(full_method.rfind('/') + 1);
  switch (rule->access) {
    case Access::kEnrollment:
      return Caller();
    case Access::kAgent:
      return Agent(ctx);
    case Access::kViewer:
      return Operator(ctx, Role::kViewer, method);
    case Access::kOperator:
      return Operator(ctx, Role::kOperator, method);
    case Access::kAdmin:
      return Operator(ctx, Role::kAdmin, method);
  }
  return absl::PermissionDeniedError(absl::StrCat(full_method, " has no access rule"));
}

absl::StatusOr<Caller> Authorizer::Identify(const grpc::AuthContext& ctx) {
  auto parsed = Parse(ctx);
  if (!parsed.ok()) return parsed.status();
  const Caller& caller = *parsed;
  RETURN_IF_ERROR(StillValid(caller));
  return caller;
}

absl::Status Authorizer::StillValid(const Caller& caller) const {
  if (IsRevoked(caller.serial)) {
    return absl::PermissionDeniedError(
        absl::StrCat("certificate ", caller.serial, " has been revoked"));
  }
  // TLS checked the dates at the handshake; the connection may be older.
  if (caller.not_after_ms != 0 && clock_->NowMs() > caller.not_after_ms) {
    return absl::UnauthenticatedError(absl::StrCat(
        "certificate ", caller.serial, " expired at ",
        absl::FormatTime(absl::FromUnixMillis(caller.not_after_ms), absl::UTCTimeZone())));
  }
  return absl::OkStatus();
}

absl::StatusOr<Caller> Authorizer::Agent(const grpc::AuthContext& ctx) {
  auto caller = Identify(ctx);
  if (!caller.ok()) return caller.status();
  if (!caller->is_agent) {
    return absl::PermissionDeniedError(
        absl::StrCat("a ", caller->role, " certificate cannot call agent methods"));
  }
  return caller;
}

absl::StatusOr<Caller> Authorizer::Operator(const grpc::AuthContext& ctx, Role min,
                                            absl::string_view method) {
  auto caller = Identify(ctx);
  if (!caller.ok()) return caller.status();
  if (caller->is_agent) {
    return absl::PermissionDeniedError("an agent certificate cannot call operator methods");
  }
  if (Rank(caller->role) < static_cast<int>(min)) {
    return absl::PermissionDeniedError(absl::StrCat(method, " needs role ", RoleName(min),
                                                    " or above; ", caller->id, " has role ",
                                                    caller->role.empty() ? "none" : caller->role));
  }
  return caller;
}

void Authorizer::Revoke(const std::string& serial) {
  absl::MutexLock lock(&mu_);
  revoked_.insert(serial);
}

bool Authorizer::IsRevoked(const std::string& serial) const {
  absl::MutexLock lock(&mu_);
  return revoked_.contains(serial);
}

}  // namespace purser::server
