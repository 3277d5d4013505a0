#include "server/agent_service.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/access.h"
#include "server/ca.h"
#include "server/call.h"
#include "shared/crypto.h"
#include "shared/disk_full.h"
#include "shared/limits.h"
#include "shared/logging.h"
#include "shared/plan/platform.h"
#include "shared/status_macros.h"

namespace purser::server {

// A long poll. Finished exactly once: by whoever takes it out of Waiters, or
// by the pool task that never put it there.
class WaitReactor : public grpc::ServerUnaryReactor {
 public:
  WaitReactor(ServerCore* core, v1::WaitForWorkResponse* resp) : core_(core), resp_(resp) {}
  // Every end of a long poll passes here, never the base's Finish: counted, timed, finished.
  void FinishCounted(grpc::Status status) {
    metrics_call.End(status.error_code());
    grpc::ServerUnaryReactor::Finish(std::move(status));
  }
  void OnCancel() override {
    if (core_->waiters.Cancel(ticket))
      FinishCounted(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }
  void OnDone() override {
    core_->waiters.Forget(ticket);
    delete this;
  }

  ServerCore* core_;
  v1::WaitForWorkResponse* resp_;
  const WaitTicket ticket = Waiters::NewTicket();
  std::string endpoint;
  int64_t deadline_ms = 0;
  RpcMetrics::Call metrics_call;
};

void FinishEmpty(WaitReactor* r) {
  r->resp_->clear_job();
  r->resp_->set_retry_after_seconds(0);
  r->FinishCounted(grpc::Status::OK);
}

void FinishRefused(WaitReactor* r, const std::string& why) {
  r->FinishCounted(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, why));
}

void ProcessWait(ServerCore* core, WaitReactor* r) {
  // This task owns `r` until it is registered; from then on any other thread
  // may finish and free it, so only what Take() hands back is used.
  const std::string endpoint = r->endpoint;
  const WaitTicket ticket = r->ticket;
  int64_t now = core->clock->NowMs();
  core->Seen(endpoint);
  Waiters::Added added = core->waiters.Add(ticket, r, endpoint, r->deadline_ms);
  if (added.replaced) FinishEmpty(added.replaced);
  if (!added.registered) {  // cancelled while queued, or the server is stopping
    FinishEmpty(r);
    return;
  }
  r = nullptr;
  auto lease = core->store->LeaseNextJob(endpoint, now);
  if (!lease.ok()) {
    if (!IsDiskFull(lease.status())) {
      LogError("lease for %s: %s", endpoint, lease.status().ToString());
    }
    if (WaitReactor* mine = core->waiters.Take(ticket)) mine->FinishCounted(ToGrpc(lease.status()));
    return;
  }
  if (lease->reboot) {
    WaitReactor* mine = core->waiters.Take(ticket);
    if (!mine) return;
    mine->resp_->set_reboot(true);
    LogInfo("%s: reboot now", endpoint);
    mine->FinishCounted(grpc::Status::OK);
    return;
  }
  if (!lease->job) {
    if (lease->retry_after_ms > 0)
      core->waiters.ShortenDeadline(ticket, now + lease->retry_after_ms);
    return;  // parked; notify, expiry or cancel finishes it
  }
  // Another task took it (a notify): it will lease the same job again.
  r = core->waiters.Take(ticket);
  if (!r) return;
  std::map<std::string, std::string> params = lease->job->params;
  absl::Status st = core->secrets->FillJobSecrets(lease->job->job.step(), &params);
  if (!st.ok()) {
    LogError("job %s for %s: %s", lease->job->job.job_id(), endpoint, st.ToString());
    r->FinishCounted(ToGrpc(absl::FailedPreconditionError(
        absl::StrCat("job ", lease->job->job.job_id(), " cannot be sent: ", st.message()))));
    return;
  }
  v1::Job* job = r->resp_->mutable_job();
  *job = lease->job->job;
  job->mutable_params()->insert(params.begin(), params.end());
  LogInfo("job %s attempt %d leased to %s", job->job_id(), job->attempt(), endpoint);
  r->FinishCounted(grpc::Status::OK);
}

grpc::ServerUnaryReactor* AgentServiceImpl::Enroll(grpc::CallbackServerContext* ctx,
                                                   const v1::EnrollRequest* req,
                                                   v1::EnrollResponse* resp) {
  return ServeUnary(
      core_, ctx, AgentMethod("Enroll"), req, [this, req, resp](const Caller&) -> absl::Status {
        std::vector<std::string> parts = absl::StrSplit(req->token(), absl::MaxSplits('.', 1));
        if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
          return absl::InvalidArgumentError(
              "token: not an enrollment token (expected <id>.<secret>)");
        }
        if (!req->has_inventory() || !req->inventory().has_os()) {
          return absl::InvalidArgumentError("inventory.os: required to enroll");
        }
        RETURN_IF_ERROR(CheckInventory(req->inventory(), "inventory"));
        // Nothing is parsed or signed for a caller without a valid token.
        int64_t now = core_->clock->NowMs();
        if (absl::Status token = core_->store->CheckToken(parts[0], Sha256Hex(parts[1]), now);
            !token.ok()) {
          LogWarning("enrollment refused (token %s): %s", parts[0], token.message());
          return token;
        }
        auto pub = CsrPublicKeyDer(req->csr_pem());
        if (!pub.ok()) return pub.status();
        std::string endpoint_id = EndpointIdForKey(*pub);
        auto cert =
            core_->ca->IssueAgent(req->csr_pem(), endpoint_id, core_->options.agent_cert_seconds);
        if (!cert.ok()) return cert.status();
        db::EnrollArgs args;
        args.token_id = parts[0];
        args.secret_hash = Sha256Hex(parts[1]);
        args.endpoint_id = endpoint_id;
        args.inventory = req->inventory();
        args.cert_serial = cert->serial_hex;
        args.cert_not_after_ms = cert->not_after_ms;
        args.now_ms = now;
        auto endpoint = core_->store->Enroll(args);
        if (!endpoint.ok()) {
          LogWarning("enrollment refused (token %s): %s", parts[0], endpoint.status().message());
          return endpoint.status();
        }
        LogInfo("enrolled %s (%s, %s) with token %s: %s", endpoint_id, req->inventory().hostname(),
                OsDisplayName(req->inventory().os()), parts[0],
                v1::EndpointState_Name(endpoint->state()));
        resp->set_endpoint_id(endpoint_id);
        resp->set_certificate_pem(cert->pem);
        resp->set_ca_certificate_pem(core_->ca->trust_pem());
        resp->set_poll_interval_seconds(core_->options.poll_interval_seconds);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AgentServiceImpl::CheckIn(grpc::CallbackServerContext* ctx,
                                                    const v1::CheckInRequest* req,
                                                    v1::CheckInResponse* resp) {
  return ServeUnary(core_, ctx, AgentMethod("CheckIn"), req,
                    [this, req, resp](const Caller& caller) -> absl::Status {
                      RETURN_IF_ERROR(CheckInventory(req->inventory(), "inventory"));
                      auto endpoint =
                          core_->store->CheckIn(caller.id, req->inventory(), core_->clock->NowMs());
                      if (!endpoint.ok()) return endpoint.status();
                      resp->set_endpoint_id(caller.id);
                      resp->set_state(endpoint->state());
                      resp->set_poll_interval_seconds(core_->options.poll_interval_seconds);
                      return absl::OkStatus();
                    });
}

grpc::ServerUnaryReactor* AgentServiceImpl::WaitForWork(grpc::CallbackServerContext* ctx,
                                                        const v1::WaitForWorkRequest* req,
                                                        v1::WaitForWorkResponse* resp) {
  auto* r = new WaitReactor(core_, resp);
  r->metrics_call = RpcMetrics::Call::Start(core_->rpc_metrics, AgentMethod("WaitForWork"));
  int wait = std::clamp(req->wait_seconds(), 0, core_->options.max_wait_seconds);
  bool queued = core_->pool->TrySubmit([this, ctx, req, r, wait] {
    const std::string method = AgentMethod("WaitForWork");
    auto caller = core_->authz.Authorize(*ctx->auth_context(), method);
    if (!caller.ok()) {
      CallAudit(core_, method, *ctx->auth_context(), *req).Refused(caller.status());
      r->FinishCounted(ToGrpc(caller.status()));
      return;
    }
    r->endpoint = caller->id;
    r->deadline_ms = core_->clock->NowMs() + wait * 1000LL;
    ProcessWait(core_, r);
  });
  if (!queued) r->FinishCounted(ServerBusy());
  return r;
}

grpc::ServerUnaryReactor* AgentServiceImpl::ReportResult(grpc::CallbackServerContext* ctx,
                                                         const v1::ReportResultRequest* req,
                                                         v1::ReportResultResponse* resp) {
  return ServeUnary(core_, ctx, AgentMethod("ReportResult"), req,
                    [this, req, resp](const Caller& caller) -> absl::Status {
                      RETURN_IF_ERROR(CheckReport(*req));
                      core_->Seen(caller.id);
                      auto ack = core_->store->RecordReport(caller.id, *req, core_->clock->NowMs());
                      if (!ack.ok()) return ack.status();
                      resp->set_duplicate(ack->duplicate);
                      resp->set_stale(ack->stale);
                      LogInfo("report %s attempt %d from %s: %s%s", req->job_id(), req->attempt(),
                              caller.id, v1::StepOutcome_Name(req->outcome()),
                              ack->duplicate ? " (duplicate)"
                              : ack->stale   ? " (stale)"
                                             : "");
                      return absl::OkStatus();
                    });
}

grpc::ServerUnaryReactor* AgentServiceImpl::RenewCertificate(grpc::CallbackServerContext* ctx,
                                                             const v1::RenewCertificateRequest* req,
                                                             v1::RenewCertificateResponse* resp) {
  return ServeUnary(core_, ctx, AgentMethod("RenewCertificate"), req,
                    [this, req, resp](const Caller& caller) -> absl::Status {
                      auto cert = core_->ca->IssueAgent(req->csr_pem(), caller.id,
                                                        core_->options.agent_cert_seconds);
                      if (!cert.ok()) return cert.status();
                      int64_t now = core_->clock->NowMs();
                      absl::Status st = core_->store->RecordCert(
                          {cert->serial_hex, caller.id, "agent", now, cert->not_after_ms, 0});
                      if (!st.ok()) return st;
                      LogInfo("renewed certificate of %s: serial %s", caller.id, cert->serial_hex);
                      resp->set_certificate_pem(cert->pem);
                      return absl::OkStatus();
                    });
}

}  // namespace purser::server
