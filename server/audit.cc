#include "server/audit.h"

#include "google/protobuf/util/json_util.h"
#include "server/access.h"
#include "server/runs.h"
#include "shared/disk_full.h"
#include "shared/logging.h"

namespace purser::server {
namespace {

// The request as JSON, with every secret it could carry taken out.
std::string RequestJson(ServerCore* core, const google::protobuf::Message& req) {
  std::unique_ptr<google::protobuf::Message> copy(req.New());
  copy->CopyFrom(req);
  if (auto* secret = dynamic_cast<v1::PutSecretRequest*>(copy.get())) {
    secret->set_value("[REDACTED]");
  }
  if (auto* run = dynamic_cast<v1::StartRunRequest*>(copy.get())) {
    HideUnknownSecretNames(core, run->plan_name(), run->mutable_params());
  }
  if (auto* campaign = dynamic_cast<v1::CreateCampaignRequest*>(copy.get())) {
    HideUnknownSecretNames(core, campaign->plan_name(), campaign->mutable_params());
  }
  if (auto* enroll = dynamic_cast<v1::EnrollRequest*>(copy.get())) {
    std::string token = enroll->token();
    enroll->set_token(token.substr(0, token.find('.')) + ".[REDACTED]");
    enroll->clear_csr_pem();
  }
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(*copy, &json);
  return Redact(json);
}

}  // namespace

CallAudit::CallAudit(ServerCore* core, const std::string& full_method, const grpc::AuthContext& ctx,
                     const google::protobuf::Message& req)
    : core_(core), method_(full_method), ctx_(ctx), req_(req), at_ms_(core->clock->NowMs()) {
  const MethodRule* rule = RuleFor(full_method);
  audited_ = rule == nullptr || rule->audited;
  if (audited_) scope_.emplace(Entry());
}

// Built only for a call that is recorded: most calls (reports, polls) are not.
v1::AuditEntry CallAudit::Entry() const {
  v1::AuditEntry e;
  Caller who = core_->authz.Peek(ctx_);
  e.set_at_unix_ms(at_ms_);
  e.set_method(method_.substr(method_.rfind('/') + 1));
  e.set_who(who.id.empty() ? "(no certificate)" : who.id);
  e.set_role(who.role);
  e.set_cert_serial(who.serial);
  e.set_request_json(RequestJson(core_, req_));
  return e;
}

void CallAudit::Refused(const absl::Status& why) {
  Append(why);
  scope_.reset();
}

void CallAudit::Done(const absl::Status& result) {
  if (audited_ && scope_ && scope_->written()) {
    // The row committed with the call's first change; a later failure is its result.
    if (!result.ok()) {
      absl::Status st =
          core_->store->SetAuditResult(scope_->row_id(), static_cast<int32_t>(result.code()),
                                       Redact(std::string(result.message())));
      if (!st.ok() && !IsDiskFull(st)) LogError("audit of %s: %s", method_, st.ToString());
    }
  } else if (audited_) {
    Append(result);
  }
  scope_.reset();
}

void CallAudit::Append(const absl::Status& result) {
  v1::AuditEntry a = scope_ ? scope_->entry() : Entry();
  a.set_result_code(static_cast<int32_t>(result.code()));
  a.set_result_message(Redact(std::string(result.message())));
  absl::Status st = core_->store->AppendAudit(a);
  if (!st.ok() && !IsDiskFull(st)) LogError("audit of %s: %s", a.method(), st.ToString());
  LogInfo("%s by %s: %s", a.method(), a.who(), result.ok() ? "OK" : result.ToString());
}

}  // namespace purser::server
