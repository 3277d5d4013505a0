#include "server/operator_service.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/runs.h"
#include "shared/crypto.h"
#include "shared/logging.h"

namespace purser::server {
namespace {

template <typename Fn>
grpc::ServerUnaryReactor* OnPool(ServerCore* core, grpc::CallbackServerContext* ctx, Role min,
                                 const char* method, Fn fn) {
  grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
  core->pool->Submit([core, ctx, r, min, method, fn = std::move(fn)]() mutable {
    auto caller = core->authz.Operator(*ctx->auth_context(), min, method);
    absl::Status st = caller.ok() ? fn(*caller) : caller.status();
    if (min > Role::kViewer) {
      LogInfo("%s by %s: %s", method, caller.ok() ? caller->id : "(refused)",
              st.ok() ? "OK" : st.ToString());
    }
    r->Finish(ToGrpc(st));
  });
  return r;
}

}  // namespace

grpc::ServerUnaryReactor* OperatorServiceImpl::CreateEnrollmentToken(
    grpc::CallbackServerContext* ctx, const v1::CreateEnrollmentTokenRequest* req,
    v1::CreateEnrollmentTokenResponse* resp) {
  return OnPool(core_, ctx, Role::kAdmin, "CreateEnrollmentToken",
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

grpc::ServerUnaryReactor* OperatorServiceImpl::ListEndpoints(grpc::CallbackServerContext* ctx,
                                                             const v1::ListEndpointsRequest* req,
                                                             v1::ListEndpointsResponse* resp) {
  return OnPool(core_, ctx, Role::kViewer, "ListEndpoints",
                [this, req, resp](const Caller&) -> absl::Status {
                  db::EndpointFilter f;
                  f.state = req->state();
                  f.page_size = req->page_size();
                  f.page_token = req->page_token();
                  auto page = core_->store->ListEndpoints(f, core_->clock->NowMs());
                  if (!page.ok()) return page.status();
                  for (auto& e : page->endpoints) *resp->add_endpoints() = std::move(e);
                  resp->set_next_page_token(page->next_page_token);
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::GetEndpoint(grpc::CallbackServerContext* ctx,
                                                           const v1::GetEndpointRequest* req,
                                                           v1::GetEndpointResponse* resp) {
  return OnPool(core_, ctx, Role::kViewer, "GetEndpoint",
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
      core_, ctx, Role::kOperator, "StartRun",
      [this, req, resp](const Caller& caller) -> absl::Status {
        auto plan = core_->plans.find(req->plan_name());
        if (plan == core_->plans.end()) {
          std::vector<std::string> names;
          for (const auto& [name, p] : core_->plans) names.push_back(name);
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
  return OnPool(core_, ctx, Role::kAdmin, "PutSecret", [this, req](const Caller&) {
    return core_->secrets->Put(req->name(), req->value(), core_->clock->NowMs());
  });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::ListPlans(grpc::CallbackServerContext* ctx,
                                                         const v1::ListPlansRequest*,
                                                         v1::ListPlansResponse* resp) {
  return OnPool(core_, ctx, Role::kViewer, "ListPlans", [this, resp](const Caller&) {
    for (const auto& [name, plan] : core_->plans) *resp->add_plans() = plan;
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::AllowReboot(grpc::CallbackServerContext* ctx,
                                                           const v1::AllowRebootRequest* req,
                                                           v1::AllowRebootResponse* resp) {
  return OnPool(
      core_, ctx, Role::kOperator, "AllowReboot", [this, req, resp](const Caller&) -> absl::Status {
        std::vector<std::string> ids(req->endpoint_ids().begin(), req->endpoint_ids().end());
        if (ids.empty()) return absl::InvalidArgumentError("endpoint_ids: required");
        auto n = core_->store->AllowReboot(ids);
        if (!n.ok()) return n.status();
        resp->set_allowed(*n);
        core_->Notify(ids);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::ListArtifacts(grpc::CallbackServerContext* ctx,
                                                             const v1::ListArtifactsRequest*,
                                                             v1::ListArtifactsResponse* resp) {
  return OnPool(core_, ctx, Role::kViewer, "ListArtifacts", [this, resp](const Caller&) {
    auto all = core_->store->ListArtifacts();
    if (!all.ok()) return all.status();
    for (auto& a : *all) *resp->add_artifacts() = std::move(a);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::CreateCampaign(grpc::CallbackServerContext* ctx,
                                                              const v1::CreateCampaignRequest* req,
                                                              v1::Campaign* resp) {
  return OnPool(core_, ctx, Role::kOperator, "CreateCampaign",
                [this, req, resp](const Caller& caller) -> absl::Status {
                  auto c = campaigns_->Create(*req, caller.id);
                  if (!c.ok()) return c.status();
                  *resp = *c;
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::ListCampaigns(grpc::CallbackServerContext* ctx,
                                                             const v1::ListCampaignsRequest*,
                                                             v1::ListCampaignsResponse* resp) {
  return OnPool(core_, ctx, Role::kViewer, "ListCampaigns",
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
  return OnPool(core_, ctx, Role::kViewer, "GetCampaign",
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
  return OnPool(core_, ctx, Role::kOperator, "ActOnCampaign",
                [this, req, resp](const Caller&) -> absl::Status {
                  auto c = campaigns_->Act(*req);
                  if (!c.ok()) return c.status();
                  *resp = *c;
                  return absl::OkStatus();
                });
}

}  // namespace purser::server
