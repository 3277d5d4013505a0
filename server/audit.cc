#include "server/audit.h"

#include "google/protobuf/util/json_util.h"
#include "server/access.h"
#include "server/runs.h"
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
    : core_(core) {
  const MethodRule* rule = RuleFor(full_method);
  audited_ = rule == nullptr || rule->audited;
  Caller who = core->authz.Peek(ctx);
  entry_.set_at_unix_ms(core->clock->NowMs());
  entry_.set_method(full_method.substr(full_method.rfind('/') + 1));
  entry_.set_who(who.id.empty() ? "(no certificate)" : who.id);
  entry_.set_role(who.role);
  entry_.set_cert_serial(who.serial);
  entry_.set_request_json(RequestJson(core, req));
  if (audited_) scope_.emplace(entry_);
}

void CallAudit::Refused(const absl::Status& why) {
  scope_.reset();
  Append(why);
}

void CallAudit::Done(const absl::Status& result) {
  bool written = scope_ && scope_->written();
  scope_.reset();
  if (!audited_) return;
  if (written && result.ok()) return;  // committed with the change
  Append(result);
}

void CallAudit::Append(const absl::Status& result) {
  v1::AuditEntry a = entry_;
  a.set_result_code(static_cast<int32_t>(result.code()));
  a.set_result_message(Redact(std::string(result.message())));
  absl::Status st = core_->store->AppendAudit(a);
  if (!st.ok()) LogError("audit of %s: %s", a.method(), st.ToString());
  LogInfo("%s by %s: %s", a.method(), a.who(), result.ok() ? "OK" : result.ToString());
}

}  // namespace purser::server
