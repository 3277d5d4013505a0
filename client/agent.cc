#include "client/agent.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "shared/logging.h"
#include "shared/plan/platform.h"
#include "shared/x509.h"

namespace purser::client {
namespace {

absl::Status FromGrpc(const grpc::Status& st, const char* what) {
  if (st.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                      absl::StrCat(what, ": ", st.error_message()));
}

// Calls wait for the channel to (re)connect until their deadline instead of
// failing fast, so a server back from a restart is used as soon as it listens.
void SetDeadline(grpc::ClientContext* ctx, int seconds) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  ctx->set_wait_for_ready(true);
}

bool IsFinal(v1::EndpointState s) {
  return s == v1::ENDPOINT_STATE_ONBOARDED || s == v1::ENDPOINT_STATE_OFFBOARDED ||
         s == v1::ENDPOINT_STATE_FAILED || s == v1::ENDPOINT_STATE_BLOCKED ||
         s == v1::ENDPOINT_STATE_UNSUPPORTED;
}

}  // namespace

Agent::Agent(AgentOptions options, Identity identity, Executor* executor)
    : options_(std::move(options)),
      identity_(std::move(identity)),
      executor_(executor),
      journal_(absl::StrCat(options_.state_dir, "/journal")),
      backoff_(options_.backoff_initial_ms, options_.backoff_max_ms),
      cache_(absl::StrCat(options_.state_dir, "/cache")) {
  Connect();
}

void Agent::Connect() {
  stub_ = v1::AgentService::NewStub(AgentChannel(options_.server, identity_));
}

void Agent::Sleep(int64_t ms, const std::atomic<bool>& stop) {
  absl::Time until = absl::Now() + absl::Milliseconds(ms);
  while (!stop && absl::Now() < until) absl::SleepFor(absl::Milliseconds(50));
}

absl::Status Agent::CheckIn(v1::EndpointState* state) {
  v1::CheckInRequest req;
  *req.mutable_inventory() = executor_->Inventory();
  req.mutable_inventory()->set_agent_nonce(Fingerprint());
  req.mutable_inventory()->set_agent_version(PURSER_VERSION);
  v1::CheckInResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 30);
  absl::Status st = FromGrpc(stub_->CheckIn(&ctx, req, &resp), "check-in");
  if (st.ok()) *state = resp.state();
  return st;
}

absl::Status Agent::ReportJournaled(const std::atomic<bool>& stop) {
  while (!stop) {
    auto j = journal_.Load();
    if (!j.ok()) return j.status();
    if (j->phase() != v1::Journal::PHASE_DONE) return absl::OkStatus();
    v1::ReportResultResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 30);
    grpc::Status st = stub_->ReportResult(&ctx, j->result(), &resp);
    if (st.ok()) {
      LogInfo("reported %s attempt %d: %s%s", j->result().job_id(), j->result().attempt(),
              v1::StepOutcome_Name(j->result().outcome()),
              resp.duplicate() ? " (already recorded)"
              : resp.stale()   ? " (stale)"
                               : "");
      absl::Status cleared = journal_.Clear();
      if (!cleared.ok()) return cleared;
      backoff_.Reset();
      return absl::OkStatus();
    }
    if (st.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
        st.error_code() == grpc::StatusCode::NOT_FOUND ||
        st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      // The server will never take it: keep it in the log, drop it from the journal.
      LogError("report of %s refused: %s", j->result().job_id(), st.error_message());
      return journal_.Clear();
    }
    int64_t delay = backoff_.NextDelayMs();
    LogWarning("report failed (%s); retrying in %d ms", st.error_message(), delay);
    Sleep(delay, stop);
  }
  return absl::CancelledError("stopping");
}

absl::Status Agent::RunJob(const v1::Job& job, const std::atomic<bool>& stop) {
  auto j = journal_.Load();
  if (!j.ok()) return j.status();
  if (j->job_id() == job.job_id() && j->attempt() == job.attempt() &&
      j->phase() == v1::Journal::PHASE_STARTED) {
    LogInfo("resuming %s attempt %d after a restart", job.job_id(), job.attempt());
  }
  v1::Journal started;
  started.set_job_id(job.job_id());
  started.set_attempt(job.attempt());
  started.set_phase(v1::Journal::PHASE_STARTED);
  started.set_started_unix_ms(absl::ToUnixMillis(absl::Now()));
  if (absl::Status st = journal_.Save(started); !st.ok()) return st;

  LogInfo("step %d/%d %s (%s) attempt %d", job.seq(), job.step_count(), job.step().id(),
          v1::StepKind_Name(job.step().kind()), job.attempt());
  absl::Time t0 = absl::Now();
  v1::Job staged;
  ActionResult r = StageJob(cache_, stub_.get(), job, &staged);
  if (r.outcome == v1::STEP_OUTCOME_UNSPECIFIED)
    r = ExecuteStep(*executor_, staged, options_.allow_run_command);
  v1::Journal done = started;
  done.set_phase(v1::Journal::PHASE_DONE);
  *done.mutable_result() =
      MakeReport(job, r, absl::Now() - t0, executor_->Inventory(), Fingerprint());

  if (absl::Status st = journal_.Save(done); !st.ok()) return st;
  LogInfo("step %s: %s %s", job.step().id(), v1::StepOutcome_Name(r.outcome), r.message);
  return ReportJournaled(stop);
}

absl::Status Agent::MaybeRenew() {
  auto info = ParseCert(identity_.cert_pem);
  if (!info.ok()) return info.status();
  int64_t now = absl::ToUnixMillis(absl::Now());
  int64_t life = info->not_after_ms - info->not_before_ms;
  if (info->not_after_ms - now > static_cast<int64_t>(life * options_.renew_fraction)) {
    return absl::OkStatus();
  }
  // The same key: the endpoint id is derived from it, and a later
  // re-enrollment must find the same endpoint.
  const std::string& key = identity_.key_pem;
  auto csr = MakeCsr(key, identity_.endpoint_id);
  if (!csr.ok()) return csr.status();
  v1::RenewCertificateRequest req;
  req.set_csr_pem(*csr);
  v1::RenewCertificateResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 30);
  absl::Status st = FromGrpc(stub_->RenewCertificate(&ctx, req, &resp), "renewal");
  if (!st.ok()) return st;
  st = SaveCertificate(options_.state_dir, key, resp.certificate_pem());
  if (!st.ok()) return st;
  identity_.cert_pem = resp.certificate_pem();
  LogInfo("certificate renewed");
  Connect();
  return absl::OkStatus();
}

absl::Status Agent::Run(const std::atomic<bool>& stop) {
  bool checked_in = false;
  v1::EndpointState state = v1::ENDPOINT_STATE_UNSPECIFIED;
  while (!stop) {
    if (!checked_in) {
      absl::Status st = CheckIn(&state);
      if (!st.ok()) {
        if (st.code() == absl::StatusCode::kPermissionDenied ||
            st.code() == absl::StatusCode::kUnauthenticated) {
          return st;  // revoked or not ours: retrying will not help
        }
        int64_t delay = backoff_.NextDelayMs();
        LogWarning("%s; retrying in %d ms", st.message(), delay);
        Sleep(delay, stop);
        continue;
      }
      checked_in = true;
      backoff_.Reset();
      LogInfo("checked in as %s: %s", identity_.endpoint_id, v1::EndpointState_Name(state));
      if (absl::Status r = MaybeRenew(); !r.ok()) LogWarning("renewal: %s", r.message());
    }
    // A result from before a restart goes first.
    if (absl::Status st = ReportJournaled(stop); !st.ok()) return st;
    v1::WaitForWorkRequest req;
    req.set_wait_seconds(options_.wait_seconds);
    v1::WaitForWorkResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx, options_.wait_seconds + 15);
    grpc::Status gs = stub_->WaitForWork(&ctx, req, &resp);
    if (!gs.ok()) {
      if (gs.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
          gs.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
        return FromGrpc(gs, "wait for work");
      }
      int64_t delay = backoff_.NextDelayMs();
      LogWarning("wait for work: %s; retrying in %d ms", gs.error_message(), delay);
      checked_in = false;
      Sleep(delay, stop);
      continue;
    }
    backoff_.Reset();
    if (resp.reboot()) {
      LogInfo("rebooting: a step asked for it and the run's policy allows it now");
      if (absl::Status rb = executor_->Reboot(); !rb.ok()) return rb;  // never came back
      checked_in = false;  // a new boot: report the new inventory first
      continue;
    }
    if (resp.has_job()) {
      if (absl::Status st = RunJob(resp.job(), stop); !st.ok()) return st;
      continue;
    }
    if (options_.exit_when_done) {
      absl::Status st = CheckIn(&state);
      if (st.ok() && IsFinal(state)) {
        LogInfo("nothing left to do: %s", v1::EndpointState_Name(state));
        return absl::OkStatus();
      }
    }
    if (resp.retry_after_seconds() > 0) Sleep(resp.retry_after_seconds() * 1000LL, stop);
  }
  return absl::OkStatus();
}

}  // namespace purser::client
