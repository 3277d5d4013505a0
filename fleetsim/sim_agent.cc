#include "fleetsim/sim_agent.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/artifact_cache.h"
#include "fleetsim/source_address.h"
#include "grpcpp/client_context.h"
#include "shared/files.h"
#include "shared/grpc_options.h"

namespace purser::fleetsim {

// One RPC in flight: its context, messages and start time.
struct SimAgent::Call {
  grpc::ClientContext ctx;
  absl::Time start = absl::Now();
  v1::CheckInRequest checkin;
  v1::CheckInResponse checked_in;
  v1::WaitForWorkRequest wait;
  v1::WaitForWorkResponse work;
  v1::ReportResultRequest report;
  v1::ReportResultResponse ack;

  explicit Call(int deadline_seconds) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(deadline_seconds));
    ctx.set_wait_for_ready(true);  // ride out a reconnect, as the agent does
  }
};

namespace {

bool Refused(const grpc::Status& st) {
  return st.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
         st.error_code() == grpc::StatusCode::UNAUTHENTICATED;
}

}  // namespace

SimAgent::SimAgent(FleetContext* fleet, int index, std::string dir, std::string source_ip,
                   AgentFaults faults)
    : fleet_(fleet),
      index_(index),
      dir_(std::move(dir)),
      source_ip_(std::move(source_ip)),
      faults_(faults),
      journal_(dir_ + "/journal") {}

absl::Status SimAgent::Prepare(const std::string& profile, const v1::SimFaults& machine_faults,
                               const std::string& token) {
  if (absl::Status st = MakeDirs(dir_, 0700); !st.ok()) return st;
  auto machine = client::sim::SimWindows::Open(
      dir_ + "/machine.textproto", profile, absl::StrFormat("fleet-%05d", index_), &machine_faults);
  if (!machine.ok()) return machine.status();
  machine_ = std::move(*machine);
  auto id = client::LoadIdentity(dir_);
  if (id.ok()) {
    identity_ = *id;
    return absl::OkStatus();
  }
  if (!absl::IsNotFound(id.status())) return id.status();
  absl::Time t0 = absl::Now();
  id = client::Enroll(fleet_->server, fleet_->ca_pem, token, machine_->Inventory(), dir_);
  fleet_->stats->Record("Enroll", absl::Now() - t0, id.ok());
  if (!id.ok()) return id.status();
  identity_ = *id;
  return absl::OkStatus();
}

void SimAgent::Boot() {
  if (fleet_->stopping) return;
  grpc::ChannelArguments args = ClientChannelArgs();
  BindSourceAddress(&args, source_ip_);
  channel_ = MakeTlsChannel(
      fleet_->server, TlsFiles{identity_.ca_pem, identity_.cert_pem, identity_.key_pem}, args);
  stub_ = v1::AgentService::NewStub(channel_);
  CheckIn();
}

void SimAgent::Cancel() {
  absl::MutexLock lock(&mu_);
  if (poll_ctx_ != nullptr) poll_ctx_->TryCancel();
}

void SimAgent::Finished(Call* call, const char* rpc, const grpc::Status& st) {
  fleet_->stats->Record(rpc, absl::Now() - call->start, st.ok());
  if (st.ok()) {
    failures_ = 0;
  } else {
    ++failures_;
  }
}

absl::Duration SimAgent::NextBackoff() {
  // As the agent: 500 ms doubling to 30 s, with full jitter.
  double cap = std::min(30'000.0, 500.0 * (1 << std::min(failures_, 6)));
  return absl::Milliseconds(absl::Uniform(rng_, cap / 2, cap));
}

void SimAgent::Later(absl::Duration d, std::function<void()> fn) {
  if (fleet_->stopping) return;
  fleet_->timers->After(d, std::move(fn));
}

void SimAgent::CheckIn() {
  if (fleet_->stopping) return;
  auto* c = new Call(30);
  *c->checkin.mutable_inventory() = machine_->Inventory();
  c->checkin.mutable_inventory()->set_agent_nonce(identity_.nonce + "/" +
                                                  c->checkin.inventory().hostname());
  c->checkin.mutable_inventory()->set_agent_version(PURSER_VERSION);
  ++fleet_->in_flight;
  stub_->async()->CheckIn(&c->ctx, &c->checkin, &c->checked_in, [this, c](grpc::Status st) {
    Finished(c, "CheckIn", st);
    if (st.ok()) {
      if (!counted_checkin_) {
        counted_checkin_ = true;
        ++fleet_->checked_in;
        fleet_->first_checkins->Add(absl::Now());
      }
      // A result journaled before a crash goes first; then work.
      fleet_->timers->Now([this] {
        auto j = journal_.Load();
        if (j.ok() && j->phase() == v1::Journal::PHASE_DONE) {
          Report(j->result());
        } else {
          Poll();
        }
      });
    } else if (!Refused(st)) {
      Later(NextBackoff(), [this] { CheckIn(); });
    }
    delete c;
    --fleet_->in_flight;
  });
}

void SimAgent::Poll() {
  if (fleet_->stopping) return;
  auto* c = new Call(fleet_->wait_seconds + 15);
  c->wait.set_wait_seconds(fleet_->wait_seconds);
  {
    absl::MutexLock lock(&mu_);
    poll_ctx_ = &c->ctx;
  }
  ++fleet_->in_flight;
  stub_->async()->WaitForWork(&c->ctx, &c->wait, &c->work, [this, c](grpc::Status st) {
    {
      absl::MutexLock lock(&mu_);
      poll_ctx_ = nullptr;
    }
    Finished(c,
             c->work.has_job()  ? "WaitForWork (job)"
             : c->work.reboot() ? "WaitForWork (reboot)"
                                : "WaitForWork (none)",
             st);
    if (st.ok() && c->work.reboot()) {
      fleet_->timers->Now([this] { Reboot(); });
    } else if (st.ok() && c->work.has_job()) {
      fleet_->timers->Now([this, job = c->work.job()] { RunJob(job); });
    } else if (st.ok()) {
      Later(absl::Seconds(c->work.retry_after_seconds()), [this] { Poll(); });
    } else if (!Refused(st) && !fleet_->stopping) {
      Later(NextBackoff(), [this] { CheckIn(); });
    }
    delete c;
    --fleet_->in_flight;
  });
}

void SimAgent::RunJob(const v1::Job& job) {
  if (faults_.hang) {  // takes its first job and is never heard of again
    faults_.hang = false;
    ++fleet_->hung;
    return;
  }
  v1::Journal started;
  started.set_job_id(job.job_id());
  started.set_attempt(job.attempt());
  started.set_phase(v1::Journal::PHASE_STARTED);
  started.set_started_unix_ms(absl::ToUnixMillis(absl::Now()));
  if (!journal_.Save(started).ok()) return;
  if (faults_.crash_once) {  // dies mid-step; restarts, and the journal resumes it
    faults_.crash_once = false;
    ++fleet_->crashes;
    stub_.reset();
    channel_.reset();
    Later(fleet_->crash_restart, [this] { Boot(); });
    return;
  }
  absl::Time t0 = absl::Now();
  client::ArtifactCache cache(dir_ + "/cache");
  v1::Job staged;
  client::ActionResult r;
  if (job.stage_size() + job.artifacts_size() > 0) {
    r = client::StageJob(cache, stub_.get(), job, &staged);
    fleet_->stats->Record("DownloadArtifact (stage)", absl::Now() - t0,
                          r.outcome == v1::STEP_OUTCOME_UNSPECIFIED);
  } else {
    staged = job;
  }
  if (r.outcome == v1::STEP_OUTCOME_UNSPECIFIED) r = client::ExecuteStep(*machine_, staged);
  v1::Journal done = started;
  done.set_phase(v1::Journal::PHASE_DONE);
  v1::Inventory inv = machine_->Inventory();
  std::string fingerprint = identity_.nonce + "/" + inv.hostname();
  *done.mutable_result() = client::MakeReport(job, r, absl::Now() - t0, inv, fingerprint);
  if (!journal_.Save(done).ok()) return;
  ++fleet_->steps_run;
  Report(done.result());
}

void SimAgent::Report(const v1::ReportResultRequest& report) {
  if (fleet_->stopping) return;
  auto* c = new Call(30);
  c->report = report;
  ++fleet_->in_flight;
  stub_->async()->ReportResult(&c->ctx, &c->report, &c->ack, [this, c](grpc::Status st) {
    Finished(c, "ReportResult", st);
    bool never = st.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
                 st.error_code() == grpc::StatusCode::NOT_FOUND ||
                 st.error_code() == grpc::StatusCode::INVALID_ARGUMENT;
    if (st.ok() || never) {
      fleet_->timers->Now([this] {
        journal_.Clear().IgnoreError();
        Poll();
      });
    } else {
      Later(NextBackoff(), [this, report = c->report] { Report(report); });
    }
    delete c;
    --fleet_->in_flight;
  });
}

void SimAgent::Reboot() {
  ++fleet_->reboots;
  if (!machine_->Reboot().ok()) {  // the machine never came back
    ++fleet_->lost;
    return;
  }
  stub_.reset();  // a reboot drops the connection
  channel_.reset();
  Later(fleet_->reboot_time, [this] { Boot(); });
}

}  // namespace purser::fleetsim
