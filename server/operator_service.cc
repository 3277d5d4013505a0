#include "server/operator_service.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "server/agent_service.h"
#include "server/runs.h"
#include "shared/crypto.h"
#include "shared/files.h"
#include "shared/logging.h"
#include "shared/plan/plan_loader.h"
#include "shared/process_stats.h"

namespace purser::server {
namespace {

void Audit(ServerCore* core, const char* method, const absl::StatusOr<Caller>& who,
           const google::protobuf::Message& req, const absl::Status& result) {
  v1::AuditEntry a;
  a.set_at_unix_ms(core->clock->NowMs());
  a.set_method(method);
  if (who.ok()) {
    a.set_who(who->id);
    a.set_role(who->role);
    a.set_cert_serial(who->serial);
  } else {
    a.set_who("(refused certificate)");
  }
  std::unique_ptr<google::protobuf::Message> copy(req.New());
  copy->CopyFrom(req);
  if (auto* secret = dynamic_cast<v1::PutSecretRequest*>(copy.get()))
    secret->set_value("[REDACTED]");
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(*copy, &json);
  a.set_request_json(Redact(json));
  a.set_result_code(static_cast<int32_t>(result.code()));
  a.set_result_message(Redact(std::string(result.message())));
  absl::Status st = core->store->AppendAudit(a);
  if (!st.ok()) LogError("audit of %s: %s", method, st.ToString());
  LogInfo("%s by %s: %s", method, a.who(), result.ok() ? "OK" : result.ToString());
}

// Runs `fn` on the pool once the caller's role allows `method`. Every call of
// a method that changes something (above viewer) goes to the audit log, the
// refused ones too, with secrets in the request redacted.
template <typename Fn>
grpc::ServerUnaryReactor* OnPool(ServerCore* core, grpc::CallbackServerContext* ctx, Role min,
                                 const char* method, const google::protobuf::Message* req, Fn fn) {
  grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
  core->pool->Submit([core, ctx, r, min, method, req, fn = std::move(fn)]() mutable {
    auto caller = core->authz.Operator(*ctx->auth_context(), min, method);
    absl::Status st = caller.ok() ? fn(*caller) : caller.status();
    // Refused for its role, a caller is still named in the log.
    if (min > Role::kViewer) {
      Audit(core, method, core->authz.Identify(*ctx->auth_context()), *req, st);
    }
    r->Finish(ToGrpc(st));
  });
  return r;
}

}  // namespace

grpc::ServerUnaryReactor* OperatorServiceImpl::CreateEnrollmentToken(
    grpc::CallbackServerContext* ctx, const v1::CreateEnrollmentTokenRequest* req,
    v1::CreateEnrollmentTokenResponse* resp) {
  return OnPool(core_, ctx, Role::kAdmin, "CreateEnrollmentToken", req,
                [this, req, resp](const Caller& caller) -> absl::Status {
                  if (req->max_uses() < 0 || req->max_uses() > 1'000'000) {
                    return absl::InvalidArgumentError("max_uses: must be 1..1000000");
                  }
                  if (req->ttl_seconds() < 0 || req->ttl_seconds() > 90LL * 24 * 3600) {
                    return absl::InvalidArgumentError("ttl_seconds: must be at most 90 days");
                  }
                  db::TokenRecord t;
                  t.id = RandomHex(4);
                  std::string secret = RandomHex(16);
                  t.secret_hash = Sha256Hex(secret);
                  t.max_uses = req->max_uses() > 0 ? req->max_uses() : 1;
                  int64_t now = core_->clock->NowMs();
                  t.expires_ms = now + (req->ttl_seconds() > 0 ? req->ttl_seconds() : 86400) * 1000;
                  t.labels = {req->labels().begin(), req->labels().end()};
                  t.description = req->description();
                  t.created_by = caller.id;
                  absl::Status st = core_->store->CreateToken(t, now);
                  if (!st.ok()) return st;
                  resp->set_token_id(t.id);
                  resp->set_token(absl::StrCat(t.id, ".", secret));
                  resp->set_expires_unix_ms(t.expires_ms);
                  resp->set_max_uses(t.max_uses);
                  return absl::OkStatus();
                });
}

namespace {

db::EndpointFilter FilterFrom(const v1::ListEndpointsRequest& req) {
  db::EndpointFilter f;
  f.state = req.state();
  f.page_size = req.page_size();
  f.page_token = req.page_token();
  f.product = req.product();
  f.labels = {req.labels().begin(), req.labels().end()};
  f.campaign_id = req.campaign_id();
  f.not_seen_since_ms = req.not_seen_since_unix_ms();
  return f;
}

}  // namespace

grpc::ServerUnaryReactor* OperatorServiceImpl::ListEndpoints(grpc::CallbackServerContext* ctx,
                                                             const v1::ListEndpointsRequest* req,
                                                             v1::ListEndpointsResponse* resp) {
  return OnPool(core_, ctx, Role::kViewer, "ListEndpoints", req,
                [this, req, resp](const Caller&) -> absl::Status {
                  auto page = core_->store->ListEndpoints(FilterFrom(*req), core_->clock->NowMs());
                  if (!page.ok()) return page.status();
                  for (auto& e : page->endpoints) *resp->add_endpoints() = std::move(e);
                  resp->set_next_page_token(page->next_page_token);
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::CountEndpoints(grpc::CallbackServerContext* ctx,
                                                              const v1::ListEndpointsRequest* req,
                                                              v1::EndpointCounts* resp) {
  return OnPool(core_, ctx, Role::kViewer, "CountEndpoints", req,
                [this, req, resp](const Caller&) -> absl::Status {
                  auto counts = core_->store->CountEndpoints(FilterFrom(*req));
                  if (!counts.ok()) return counts.status();
                  for (const auto& [state, n] : *counts) {
                    auto* c = resp->add_by_state();
                    c->set_state(state);
                    c->set_count(n);
                    resp->set_total(resp->total() + n);
                  }
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::GetServerStats(grpc::CallbackServerContext* ctx,
                                                              const v1::GetServerStatsRequest* req,
                                                              v1::ServerStats* resp) {
  return OnPool(core_, ctx, Role::kViewer, "GetServerStats", req,
                [this, resp](const Caller&) -> absl::Status {
                  auto store = core_->store->Stats();
                  if (!store.ok()) return store.status();
                  ProcessStats self = ReadProcessStats();
                  resp->set_uptime_ms(core_->clock->NowMs() - core_->started_ms);
                  resp->set_cpu_seconds(self.cpu_seconds);
                  resp->set_rss_bytes(self.rss_bytes);
                  resp->set_threads(self.threads);
                  resp->set_parked_long_polls(static_cast<int32_t>(core_->waiters.size()));
                  resp->set_sqlite_transactions(store->transactions);
                  resp->set_sqlite_writes(store->writes);
                  resp->set_endpoints(store->endpoints);
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::GetEndpoint(grpc::CallbackServerContext* ctx,
                                                           const v1::GetEndpointRequest* req,
                                                           v1::GetEndpointResponse* resp) {
  return OnPool(core_, ctx, Role::kViewer, "GetEndpoint", req,
                [this, req, resp](const Caller&) -> absl::Status {
                  if (req->id().empty()) return absl::InvalidArgumentError("id: required");
                  auto e = core_->store->GetEndpoint(req->id(), core_->clock->NowMs());
                  if (!e.ok()) return e.status();
                  *resp->mutable_endpoint() = *e;
                  auto jobs = core_->store->ListJobs(req->id());
                  if (!jobs.ok()) return jobs.status();
                  for (auto& j : *jobs) *resp->add_jobs() = std::move(j);
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::StartRun(grpc::CallbackServerContext* ctx,
                                                        const v1::StartRunRequest* req,
                                                        v1::StartRunResponse* resp) {
  return OnPool(
      core_, ctx, Role::kOperator, "StartRun", req,
      [this, req, resp](const Caller& caller) -> absl::Status {
        auto plans = core_->Plans();
        auto plan = plans->find(req->plan_name());
        if (plan == plans->end()) {
          std::vector<std::string> names;
          for (const auto& [name, p] : *plans) names.push_back(name);
          return absl::NotFoundError(absl::StrCat("plan_name: no plan \"", req->plan_name(),
                                                  "\" (loaded: ", absl::StrJoin(names, ", "), ")"));
        }
        if (req->endpoint_ids().empty() && !req->all_endpoints()) {
          return absl::InvalidArgumentError("endpoint_ids: name endpoints, or set all_endpoints");
        }
        auto spec = MakeRunSpec(core_, plan->second, {req->params().begin(), req->params().end()},
                                req->reboot_policy(), caller.id);
        if (!spec.ok()) return spec.status();
        spec->endpoint_ids = {req->endpoint_ids().begin(), req->endpoint_ids().end()};
        spec->all_endpoints = req->all_endpoints();
        auto out = core_->store->StartRun(*spec);
        if (!out.ok()) return out.status();
        *resp = *out;
        core_->Notify({out->started().begin(), out->started().end()});
        LogInfo("run %s of plan %s: %d started, %d skipped", out->run_id(), req->plan_name(),
                out->started_size(), out->skipped_size());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::PutSecret(grpc::CallbackServerContext* ctx,
                                                         const v1::PutSecretRequest* req,
                                                         v1::PutSecretResponse*) {
  return OnPool(core_, ctx, Role::kAdmin, "PutSecret", req, [this, req](const Caller&) {
    return core_->secrets->Put(req->name(), req->value(), core_->clock->NowMs());
  });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::ListPlans(grpc::CallbackServerContext* ctx,
                                                         const v1::ListPlansRequest* req,
                                                         v1::ListPlansResponse* resp) {
  return OnPool(core_, ctx, Role::kViewer, "ListPlans", req, [this, resp](const Caller&) {
    for (const auto& [name, plan] : *core_->Plans()) *resp->add_plans() = plan;
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::AllowReboot(grpc::CallbackServerContext* ctx,
                                                           const v1::AllowRebootRequest* req,
                                                           v1::AllowRebootResponse* resp) {
  return OnPool(core_, ctx, Role::kOperator, "AllowReboot", req,
                [this, req, resp](const Caller&) -> absl::Status {
                  std::vector<std::string> ids(req->endpoint_ids().begin(),
                                               req->endpoint_ids().end());
                  if (ids.empty()) return absl::InvalidArgumentError("endpoint_ids: required");
                  auto n = core_->store->AllowReboot(ids);
                  if (!n.ok()) return n.status();
                  resp->set_allowed(*n);
                  core_->Notify(ids);
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::ListArtifacts(grpc::CallbackServerContext* ctx,
                                                             const v1::ListArtifactsRequest* req,
                                                             v1::ListArtifactsResponse* resp) {
  return OnPool(core_, ctx, Role::kViewer, "ListArtifacts", req, [this, resp](const Caller&) {
    auto all = core_->store->ListArtifacts();
    if (!all.ok()) return all.status();
    for (auto& a : *all) *resp->add_artifacts() = std::move(a);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::CreateCampaign(grpc::CallbackServerContext* ctx,
                                                              const v1::CreateCampaignRequest* req,
                                                              v1::Campaign* resp) {
  return OnPool(core_, ctx, Role::kOperator, "CreateCampaign", req,
                [this, req, resp](const Caller& caller) -> absl::Status {
                  auto c = campaigns_->Create(*req, caller.id);
                  if (!c.ok()) return c.status();
                  *resp = *c;
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::ListCampaigns(grpc::CallbackServerContext* ctx,
                                                             const v1::ListCampaignsRequest* req,
                                                             v1::ListCampaignsResponse* resp) {
  return OnPool(core_, ctx, Role::kViewer, "ListCampaigns", req,
                [this, resp](const Caller&) -> absl::Status {
                  auto all = campaigns_->List();
                  if (!all.ok()) return all.status();
                  for (auto& c : *all) *resp->add_campaigns() = std::move(c);
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::GetCampaign(grpc::CallbackServerContext* ctx,
                                                           const v1::GetCampaignRequest* req,
                                                           v1::GetCampaignResponse* resp) {
  return OnPool(core_, ctx, Role::kViewer, "GetCampaign", req,
                [this, req, resp](const Caller&) -> absl::Status {
                  auto c = campaigns_->Get(req->id());
                  if (!c.ok()) return c.status();
                  *resp = *c;
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::ActOnCampaign(grpc::CallbackServerContext* ctx,
                                                             const v1::ActOnCampaignRequest* req,
                                                             v1::Campaign* resp) {
  return OnPool(core_, ctx, Role::kOperator, "ActOnCampaign", req,
                [this, req, resp](const Caller&) -> absl::Status {
                  auto c = campaigns_->Act(*req);
                  if (!c.ok()) return c.status();
                  *resp = *c;
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::GetEndpointHistory(grpc::CallbackServerContext* ctx,
                                                                  const v1::GetEndpointRequest* req,
                                                                  v1::EndpointHistory* resp) {
  return OnPool(core_, ctx, Role::kViewer, "GetEndpointHistory", req,
                [this, req, resp](const Caller&) -> absl::Status {
                  auto e = core_->store->GetEndpoint(req->id(), core_->clock->NowMs());
                  if (!e.ok()) return e.status();
                  auto h = core_->store->History(req->id());
                  if (!h.ok()) return h.status();
                  resp->set_endpoint_id(req->id());
                  for (auto& entry : *h) *resp->add_entries() = std::move(entry);
                  return absl::OkStatus();
                });
}

absl::StatusOr<v1::IssuedCertificate> OperatorServiceImpl::Issue(const std::string& csr_pem,
                                                                 const std::string& name,
                                                                 const std::string& role,
                                                                 int64_t validity_seconds) {
  if (role != "admin" && role != "operator" && role != "viewer") {
    return absl::InvalidArgumentError("role: admin, operator or viewer");
  }
  if (name.empty() || name.size() > 64)
    return absl::InvalidArgumentError("name: 1 to 64 characters");
  auto pub = CsrPublicKeyDer(csr_pem);
  if (!pub.ok()) return pub.status();
  auto cert = core_->ca->IssueOperator(
      *pub, name, role, validity_seconds > 0 ? validity_seconds : kOperatorCertSeconds);
  if (!cert.ok()) return cert.status();
  int64_t now = core_->clock->NowMs();
  absl::Status st =
      core_->store->RecordCert({cert->serial_hex, name, role, now, cert->not_after_ms, 0});
  if (!st.ok()) return st;
  v1::IssuedCertificate out;
  out.set_certificate_pem(cert->pem);
  out.set_serial(cert->serial_hex);
  out.set_not_after_unix_ms(cert->not_after_ms);
  return out;
}

grpc::ServerUnaryReactor* OperatorServiceImpl::IssueOperatorCertificate(
    grpc::CallbackServerContext* ctx, const v1::IssueOperatorCertificateRequest* req,
    v1::IssuedCertificate* resp) {
  return OnPool(core_, ctx, Role::kAdmin, "IssueOperatorCertificate", req,
                [this, req, resp](const Caller&) -> absl::Status {
                  auto out =
                      Issue(req->csr_pem(), req->name(), req->role(), req->validity_seconds());
                  if (!out.ok()) return out.status();
                  *resp = *out;
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::RenewOperatorCertificate(
    grpc::CallbackServerContext* ctx, const v1::RenewOperatorCertificateRequest* req,
    v1::IssuedCertificate* resp) {
  // A viewer may renew its own certificate: the audit log still records it.
  return OnPool(core_, ctx, Role::kViewer, "RenewOperatorCertificate", req,
                [this, req, resp](const Caller& caller) -> absl::Status {
                  auto out = Issue(req->csr_pem(), caller.id, caller.role, 0);
                  if (!out.ok()) return out.status();
                  *resp = *out;
                  Audit(core_, "RenewOperatorCertificate", caller, *req, absl::OkStatus());
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::ListCertificates(
    grpc::CallbackServerContext* ctx, const v1::ListCertificatesRequest* req,
    v1::ListCertificatesResponse* resp) {
  return OnPool(core_, ctx, Role::kAdmin, "ListCertificates", req,
                [this, resp](const Caller&) -> absl::Status {
                  auto certs = core_->store->ListCerts();
                  if (!certs.ok()) return certs.status();
                  for (const auto& c : *certs) {
                    auto* info = resp->add_certificates();
                    info->set_serial(c.serial);
                    info->set_subject(c.subject);
                    info->set_role(c.role);
                    info->set_issued_unix_ms(c.issued_ms);
                    info->set_not_after_unix_ms(c.not_after_ms);
                    info->set_revoked_unix_ms(c.revoked_ms);
                  }
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::RevokeCertificate(
    grpc::CallbackServerContext* ctx, const v1::RevokeCertificateRequest* req,
    v1::CertificateInfo* resp) {
  return OnPool(core_, ctx, Role::kAdmin, "RevokeCertificate", req,
                [this, req, resp](const Caller&) -> absl::Status {
                  auto c = core_->store->RevokeCert(req->serial(), core_->clock->NowMs());
                  if (!c.ok()) return c.status();
                  core_->authz.Revoke(c->serial);
                  // Open streams end now, not at their next call.
                  if (c->role == "agent") {
                    if (WaitReactor* r = core_->waiters.TakeEndpoint(c->subject)) {
                      FinishRefused(r, "certificate revoked");
                    }
                  }
                  campaigns_->CloseWatchesOf(c->serial);
                  resp->set_serial(c->serial);
                  resp->set_subject(c->subject);
                  resp->set_role(c->role);
                  resp->set_issued_unix_ms(c->issued_ms);
                  resp->set_not_after_unix_ms(c->not_after_ms);
                  resp->set_revoked_unix_ms(c->revoked_ms);
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::ListAudit(grpc::CallbackServerContext* ctx,
                                                         const v1::ListAuditRequest* req,
                                                         v1::ListAuditResponse* resp) {
  return OnPool(core_, ctx, Role::kAdmin, "ListAudit", req,
                [this, req, resp](const Caller&) -> absl::Status {
                  auto out = core_->store->ListAudit(*req);
                  if (!out.ok()) return out.status();
                  *resp = *out;
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::SetLabels(grpc::CallbackServerContext* ctx,
                                                         const v1::SetLabelsRequest* req,
                                                         v1::Endpoint* resp) {
  return OnPool(
      core_, ctx, Role::kOperator, "SetLabels", req,
      [this, req, resp](const Caller&) -> absl::Status {
        for (const auto& [k, v] : req->set()) {
          if (k.empty() || k.size() > 63 || v.size() > 255) {
            return absl::InvalidArgumentError("set: keys 1-63 characters, values at most 255");
          }
        }
        auto e = core_->store->SetLabels(req->endpoint_id(), {req->set().begin(), req->set().end()},
                                         {req->remove().begin(), req->remove().end()},
                                         core_->clock->NowMs());
        if (!e.ok()) return e.status();
        *resp = *e;
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::UploadPlan(grpc::CallbackServerContext* ctx,
                                                          const v1::UploadPlanRequest* req,
                                                          v1::Plan* resp) {
  return OnPool(core_, ctx, Role::kAdmin, "UploadPlan", req,
                [this, req, resp](const Caller&) -> absl::Status {
                  std::string file =
                      req->filename().empty() ? "uploaded.textproto" : req->filename();
                  auto plan = ParsePlan(req->text(), file);
                  if (!plan.ok()) return plan.status();
                  if (core_->options.plans_dir.empty()) {
                    return absl::FailedPreconditionError("the server runs without --plans_dir");
                  }
                  // Kept where the next start loads it from.
                  bool json = file.size() > 5 && file.substr(file.size() - 5) == ".json";
                  std::string path = absl::StrCat(core_->options.plans_dir, "/", plan->name(),
                                                  json ? ".json" : ".textproto");
                  absl::Status st = WriteFileAtomic(path, req->text(), 0644);
                  if (!st.ok()) return st;
                  core_->PutPlan(*plan);
                  *resp = *plan;
                  return absl::OkStatus();
                });
}

}  // namespace purser::server
