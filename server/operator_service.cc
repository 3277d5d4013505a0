#include "server/operator_service.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "server/access.h"
#include "server/agent_service.h"
#include "server/call.h"
#include "server/runs.h"
#include "shared/crypto.h"
#include "shared/files.h"
#include "shared/grpc_options.h"
#include "shared/logging.h"
#include "shared/plan/plan_loader.h"
#include "shared/process_stats.h"
#include "shared/status_macros.h"

namespace purser::server {
namespace {

int PageSize(int asked, int default_size, int max_size) {
  if (asked <= 0) return default_size;
  return std::min(asked, max_size);
}

}  // namespace

grpc::ServerUnaryReactor* OperatorServiceImpl::CreateEnrollmentToken(
    grpc::CallbackServerContext* ctx, const v1::CreateEnrollmentTokenRequest* req,
    v1::CreateEnrollmentTokenResponse* resp) {
  return ServeUnary(core_, ctx, OperatorMethod("CreateEnrollmentToken"), req,
                    [this, req, resp](const Caller& caller) -> absl::Status {
                      if (req->max_uses() < 0 || req->max_uses() > 1'000'000) {
                        return absl::InvalidArgumentError("max_uses: must be 1..1000000");
                      }
                      if (req->ttl_seconds() < 0 || req->ttl_seconds() > 90LL * 24 * 3600) {
                        return absl::InvalidArgumentError("ttl_seconds: must be at most 90 days");
                      }
                      db::TokenRecord t;
                      t.id = RandomHex(8);
                      std::string secret = RandomHex(16);
                      t.secret_hash = Sha256Hex(secret);
                      t.max_uses = req->max_uses() > 0 ? req->max_uses() : 1;
                      int64_t now = core_->clock->NowMs();
                      t.expires_ms =
                          now + (req->ttl_seconds() > 0 ? req->ttl_seconds() : 86400) * 1000;
                      t.labels = {req->labels().begin(), req->labels().end()};
                      t.description = req->description();
                      t.created_by = caller.id;
                      t.readmit_endpoint_ids = {req->readmit_endpoint_ids().begin(),
                                                req->readmit_endpoint_ids().end()};
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
  return ServeUnary(core_, ctx, OperatorMethod("ListEndpoints"), req,
                    [this, req, resp](const Caller&) -> absl::Status {
                      auto page =
                          core_->store->ListEndpoints(FilterFrom(*req), core_->clock->NowMs());
                      if (!page.ok()) return page.status();
                      for (auto& e : page->endpoints) *resp->add_endpoints() = std::move(e);
                      resp->set_next_page_token(page->next_page_token);
                      return absl::OkStatus();
                    });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::CountEndpoints(grpc::CallbackServerContext* ctx,
                                                              const v1::ListEndpointsRequest* req,
                                                              v1::EndpointCounts* resp) {
  return ServeUnary(core_, ctx, OperatorMethod("CountEndpoints"), req,
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
  return ServeUnary(core_, ctx, OperatorMethod("GetServerStats"), req,
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
  return ServeUnary(core_, ctx, OperatorMethod("GetEndpoint"), req,
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
  return ServeUnary(
      core_, ctx, OperatorMethod("StartRun"), req,
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
  return ServeUnary(core_, ctx, OperatorMethod("PutSecret"), req, [this, req](const Caller&) {
    return core_->secrets->Put(req->name(), req->value(), core_->clock->NowMs());
  });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::RotateSecretsKey(
    grpc::CallbackServerContext* ctx, const v1::RotateSecretsKeyRequest* req,
    v1::RotateSecretsKeyResponse* resp) {
  return ServeUnary(core_, ctx, OperatorMethod("RotateSecretsKey"), req,
                    [this, resp](const Caller&) -> absl::Status {
                      auto count = core_->secrets->RotateKey(core_->clock->NowMs());
                      if (!count.ok()) return count.status();
                      resp->set_secrets_resealed(*count);
                      resp->set_key_file(core_->secrets->key_path());
                      return absl::OkStatus();
                    });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::ListPlans(grpc::CallbackServerContext* ctx,
                                                         const v1::ListPlansRequest* req,
                                                         v1::ListPlansResponse* resp) {
  return ServeUnary(core_, ctx, OperatorMethod("ListPlans"), req, [this, resp](const Caller&) {
    for (const auto& [name, plan] : *core_->Plans()) *resp->add_plans() = plan;
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::AllowReboot(grpc::CallbackServerContext* ctx,
                                                           const v1::AllowRebootRequest* req,
                                                           v1::AllowRebootResponse* resp) {
  return ServeUnary(core_, ctx, OperatorMethod("AllowReboot"), req,
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
  return ServeUnary(core_, ctx, OperatorMethod("ListArtifacts"), req, [this, resp](const Caller&) {
    auto all = core_->store->ListArtifacts();
    if (!all.ok()) return all.status();
    for (auto& a : *all) *resp->add_artifacts() = std::move(a);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::CreateCampaign(grpc::CallbackServerContext* ctx,
                                                              const v1::CreateCampaignRequest* req,
                                                              v1::Campaign* resp) {
  return ServeUnary(core_, ctx, OperatorMethod("CreateCampaign"), req,
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
  return ServeUnary(core_, ctx, OperatorMethod("ListCampaigns"), req,
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
  return ServeUnary(core_, ctx, OperatorMethod("GetCampaign"), req,
                    [this, req, resp](const Caller&) -> absl::Status {
                      auto c = campaigns_->Get(req->id());
                      if (!c.ok()) return c.status();
                      *resp->mutable_campaign() = c->campaign();
                      // Members by endpoint id, a page at a time: 10,000 of them
                      // would not fit one message.
                      int size = PageSize(req->page_size(), 1000, 5000);
                      std::vector<const v1::CampaignMember*> members;
                      for (const auto& m : c->members()) members.push_back(&m);
                      std::sort(members.begin(), members.end(), [](auto* a, auto* b) {
                        return a->endpoint_id() < b->endpoint_id();
                      });
                      for (const auto* m : members) {
                        if (!req->page_token().empty() && m->endpoint_id() <= req->page_token())
                          continue;
                        if (resp->members_size() == size) {
                          resp->set_next_page_token(resp->members(size - 1).endpoint_id());
                          break;
                        }
                        *resp->add_members() = *m;
                      }
                      return absl::OkStatus();
                    });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::ActOnCampaign(grpc::CallbackServerContext* ctx,
                                                             const v1::ActOnCampaignRequest* req,
                                                             v1::Campaign* resp) {
  return ServeUnary(core_, ctx, OperatorMethod("ActOnCampaign"), req,
                    [this, req, resp](const Caller&) -> absl::Status {
                      auto c = campaigns_->Act(*req);
                      if (!c.ok()) return c.status();
                      *resp = *c;
                      return absl::OkStatus();
                    });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::GetEndpointHistory(
    grpc::CallbackServerContext* ctx, const v1::GetEndpointHistoryRequest* req,
    v1::EndpointHistory* resp) {
  return ServeUnary(
      core_, ctx, OperatorMethod("GetEndpointHistory"), req,
      [this, req, resp](const Caller&) -> absl::Status {
        auto e = core_->store->GetEndpoint(req->id(), core_->clock->NowMs());
        if (!e.ok()) return e.status();
        auto h = core_->store->History(req->id());
        if (!h.ok()) return h.status();
        resp->set_endpoint_id(req->id());
        // The newest page before the cursor, oldest first. The
        // cursor is a time, so a page never splits the entries of
        // one millisecond: it takes all of them.
        int size = PageSize(req->page_size(), 500, 2000);
        size_t end = h->size();
        if (req->before_unix_ms() > 0) {
          while (end > 0 && (*h)[end - 1].at_unix_ms() >= req->before_unix_ms()) --end;
        }
        size_t begin = end > static_cast<size_t>(size) ? end - size : 0;
        while (begin > 0 && (*h)[begin - 1].at_unix_ms() == (*h)[begin].at_unix_ms()) {
          --begin;
        }
        if (begin > 0) resp->set_next_before_unix_ms((*h)[begin].at_unix_ms());
        for (size_t i = begin; i < end; ++i) *resp->add_entries() = std::move((*h)[i]);
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
  if (name == kServerName) {
    return absl::InvalidArgumentError(
        absl::StrCat("name: \"", kServerName, "\" is the server's own name"));
  }
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
  return ServeUnary(core_, ctx, OperatorMethod("IssueOperatorCertificate"), req,
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
  return ServeUnary(core_, ctx, OperatorMethod("RenewOperatorCertificate"), req,
                    [this, req, resp](const Caller& caller) -> absl::Status {
                      auto out = Issue(req->csr_pem(), caller.id, caller.role, 0);
                      if (!out.ok()) return out.status();
                      *resp = *out;
                      return absl::OkStatus();
                    });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::ListCertificates(
    grpc::CallbackServerContext* ctx, const v1::ListCertificatesRequest* req,
    v1::ListCertificatesResponse* resp) {
  return ServeUnary(
      core_, ctx, OperatorMethod("ListCertificates"), req,
      [this, req, resp](const Caller&) -> absl::Status {
        auto certs = core_->store->ListCerts();
        if (!certs.ok()) return certs.status();
        // In issue order, a page at a time; the token is "<issued_ms>/<serial>".
        int size = PageSize(req->page_size(), 1000, 5000);
        auto key = [](const db::CertRecord& c) { return std::make_pair(c.issued_ms, c.serial); };
        std::pair<int64_t, std::string> after{INT64_MIN, ""};
        if (!req->page_token().empty()) {
          std::pair<std::string, std::string> parts =
              absl::StrSplit(req->page_token(), absl::MaxSplits('/', 1));
          if (!absl::SimpleAtoi(parts.first, &after.first)) {
            return absl::InvalidArgumentError("page_token: not a token of this list");
          }
          after.second = parts.second;
        }
        for (const auto& c : *certs) {
          if (key(c) <= after) continue;
          if (resp->certificates_size() == size) {
            const auto& last = resp->certificates(size - 1);
            resp->set_next_page_token(absl::StrCat(last.issued_unix_ms(), "/", last.serial()));
            break;
          }
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
  return ServeUnary(core_, ctx, OperatorMethod("RevokeCertificate"), req,
                    [this, req, resp](const Caller&) -> absl::Status {
                      auto revoked = core_->store->RevokeCert(req->serial(), core_->clock->NowMs());
                      if (!revoked.ok()) return revoked.status();
                      const db::CertRecord* c = &revoked->front();
                      for (const auto& cert : *revoked) {
                        core_->authz.Revoke(cert.serial);
                        campaigns_->CloseWatchesOf(cert.serial);  // open streams end now
                        if (cert.serial != c->serial) {
                          LogInfo("certificate %s of %s revoked with %s", cert.serial, cert.subject,
                                  c->serial);
                        }
                      }
                      if (c->role == "agent") {
                        if (WaitReactor* r = core_->waiters.TakeEndpoint(c->subject)) {
                          FinishRefused(r, "certificate revoked");
                        }
                      }
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
  return ServeUnary(core_, ctx, OperatorMethod("ListAudit"), req,
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
  return ServeUnary(
      core_, ctx, OperatorMethod("SetLabels"), req,
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
  return ServeUnary(core_, ctx, OperatorMethod("UploadPlan"), req,
                    [this, req, resp](const Caller&) -> absl::Status {
                      std::string file =
                          req->filename().empty() ? "uploaded.textproto" : req->filename();
                      auto plan = ParsePlan(req->text(), file);
                      if (!plan.ok()) return plan.status();
                      if (core_->options.plans_dir.empty()) {
                        return absl::FailedPreconditionError("the server runs without --plans_dir");
                      }
                      RETURN_IF_ERROR(SavePlanFile(core_->options.plans_dir, plan->name(),
                                                   absl::EndsWith(file, ".json"), req->text(),
                                                   [&] { core_->PutPlan(*plan); }));
                      *resp = *plan;
                      return absl::OkStatus();
                    });
}

}  // namespace purser::server
