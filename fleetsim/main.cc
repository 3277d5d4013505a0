// purser-fleetsim: a fleet of simulated Windows endpoints in one process,
// against a real purser-server. Enrolls the fleet, boots it (a storm, or with
// splay), lets it idle, runs an onboarding campaign with the default plan,
// and prints per-RPC throughput and latency and the server's own figures.
// Lines starting with "figure " are for scripts: "figure <name> <value>".
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "fleetsim/fleet.h"
#include "grpcpp/client_context.h"
#include "purser/v1/operator.grpc.pb.h"
#include "shared/crypto.h"
#include "shared/files.h"
#include "shared/grpc_options.h"
#include "shared/logging.h"

ABSL_FLAG(std::string, server, "127.0.0.1:7443", "purser-server host:port");
ABSL_FLAG(std::string, ca, "", "the server's ca.pem");
ABSL_FLAG(std::string, cert, "", "an operator certificate (admin, to create the token)");
ABSL_FLAG(std::string, key, "", "its private key");
ABSL_FLAG(int, agents, 100, "simulated endpoints");
ABSL_FLAG(std::string, state_root, "",
          "where each agent keeps its key, machine and journal; keep it to run phases "
          "again with load (default: a new directory in /dev/shm, removed at the end: the "
          "simulated machines' disks are not this machine's disk)");
ABSL_FLAG(std::string, mix,
          "win7-sp1-x64-ent:40,win7-sp1-x86-pro:10,win81-x64-ent:20,win81-x86-pro:5,"
          "win2008r2-sp1-x64:25",
          "profile:weight,... of the fleet");
ABSL_FLAG(std::string, phases, "enroll,boot,idle,campaign", "what to do, in order");
ABSL_FLAG(int, source_ips, 8, "spread connections over 127.0.0.1..N");
ABSL_FLAG(int, threads, 4, "worker threads running steps");
ABSL_FLAG(int, enroll_concurrency, 16, "enrollments at once");
ABSL_FLAG(int, boot_splay_ms, 0, "spread boots over this long (0: a storm)");
ABSL_FLAG(int, idle_seconds, 10, "idle phase length");
ABSL_FLAG(int, wait_seconds, 25, "long-poll length the agents ask for");
ABSL_FLAG(int, reboot_ms, 500, "simulated reboot downtime");
ABSL_FLAG(int, timeout_seconds, 600, "give up on a phase after this long");
ABSL_FLAG(std::string, plan, "mde-downlevel-onboard", "campaign plan");
ABSL_FLAG(int, max_in_flight, 0, "campaign max in flight (0: no limit)");
ABSL_FLAG(double, crash_pct, 0, "percent of agents that crash mid-step once");
ABSL_FLAG(double, hang_pct, 0, "percent of agents that hang in their first step");
ABSL_FLAG(double, lost_reboot_pct, 0, "percent of machines that never come back from a reboot");
ABSL_FLAG(double, failing_kb_pct, 0, "percent of machines on which KB4474419 fails");

namespace purser::fleetsim {
namespace {

using Stub = v1::OperatorService::Stub;

void Figure(const std::string& name, double value) {
  std::printf("figure %s %.6g\n", name.c_str(), value);
}

template <typename Req, typename Resp>
absl::Status Call(Stub* stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                  const Req& req, Resp* resp) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grpc::Status st = (stub->*method)(&ctx, req, resp);
  if (st.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
}

// The server's own figures. Without them there is nothing left to measure:
// a server that stopped answering ends the run (exit 3).
v1::ServerStats Stats(Stub* op) {
  v1::ServerStats s;
  absl::Status st = Call(op, &Stub::GetServerStats, v1::GetServerStatsRequest(), &s);
  if (!st.ok()) {
    std::cerr << "purser-fleetsim: server stats: " << st.message() << "\n";
    std::_Exit(3);
  }
  return s;
}

// Uploads a small stand-in for each package of `plan` and stores a workspace
// key; returns the campaign parameters.
absl::StatusOr<std::map<std::string, std::string>> PrepareCampaign(Stub* op,
                                                                   const std::string& plan) {
  v1::ListPlansResponse plans;
  if (absl::Status st = Call(op, &Stub::ListPlans, v1::ListPlansRequest(), &plans); !st.ok())
    return st;
  const v1::Plan* found = nullptr;
  for (const auto& p : plans.plans()) {
    if (p.name() == plan) found = &p;
  }
  if (found == nullptr) return absl::NotFoundError(absl::StrCat("--plan: no plan named ", plan));
  for (const auto& a : found->artifacts()) {
    grpc::ClientContext ctx;
    v1::ArtifactInfo info;
    auto w = op->UploadArtifact(&ctx, &info);
    std::string data = absl::StrCat("stand-in for ", a.name(), "\n", RandomHex(512));
    v1::UploadArtifactRequest header;
    header.mutable_header()->set_name(a.name());
    header.mutable_header()->set_size(static_cast<int64_t>(data.size()));
    v1::UploadArtifactRequest chunk;
    chunk.set_chunk(data);
    w->Write(header);
    w->Write(chunk);
    w->WritesDone();
    grpc::Status st = w->Finish();
    if (!st.ok())
      return absl::InternalError(absl::StrCat("upload ", a.name(), ": ", st.error_message()));
  }
  v1::PutSecretRequest secret;
  secret.set_name("fleetsim-workspace-key");
  secret.set_value(RandomHex(32));
  v1::PutSecretResponse put;
  if (absl::Status st = Call(op, &Stub::PutSecret, secret, &put); !st.ok()) return st;
  return std::map<std::string, std::string>{{"workspace_id", "fleetsim-workspace"},
                                            {"workspace_key", "fleetsim-workspace-key"}};
}

// Waits until `done()` (asked every `poll`) or the timeout; prints progress
// every 5 s. Asking the server costs it work: poll it no faster than twice a second.
bool WaitFor(const std::function<bool()>& done, const std::function<std::string()>& progress,
             absl::Duration timeout, absl::Duration poll) {
  absl::Time until = absl::Now() + timeout, next_print = absl::Now() + absl::Seconds(5);
  while (!done()) {
    if (absl::Now() > until) return false;
    if (absl::Now() > next_print) {
      std::printf("  ... %s\n", progress().c_str());
      std::fflush(stdout);
      next_print += absl::Seconds(5);
    }
    absl::SleepFor(poll);
  }
  return true;
}

int Main() {
  SetLogLevel(LogLevel::kError);  // thousands of agents: only what goes wrong
  auto tls =
      LoadTlsFiles(absl::GetFlag(FLAGS_ca), absl::GetFlag(FLAGS_cert), absl::GetFlag(FLAGS_key));
  if (!tls.ok()) {
    std::cerr << "purser-fleetsim: " << tls.status().message() << "\n";
    return 2;
  }
  auto mix = ParseMix(absl::GetFlag(FLAGS_mix));
  if (!mix.ok()) {
    std::cerr << "purser-fleetsim: " << mix.status().message() << "\n";
    return 2;
  }
  std::string root = absl::GetFlag(FLAGS_state_root);
  // A fleet in a directory of our own choosing is temporary: removed at the end.
  const bool temporary = root.empty();
  if (temporary) root = absl::StrCat("/dev/shm/purser-fleetsim-", getpid());
  auto op = v1::OperatorService::NewStub(MakeTlsChannel(absl::GetFlag(FLAGS_server), *tls));

  RpcStats stats;
  RateMeter first_checkins;
  auto timers = std::make_unique<Timers>(absl::GetFlag(FLAGS_threads));
  FleetContext ctx;
  ctx.server = absl::GetFlag(FLAGS_server);
  ctx.ca_pem = tls->ca_pem;
  ctx.wait_seconds = absl::GetFlag(FLAGS_wait_seconds);
  ctx.reboot_time = absl::Milliseconds(absl::GetFlag(FLAGS_reboot_ms));
  ctx.stats = &stats;
  ctx.first_checkins = &first_checkins;
  ctx.timers = timers.get();

  FleetOptions fo;
  fo.agents = absl::GetFlag(FLAGS_agents);
  fo.state_root = root;
  fo.mix = *mix;
  fo.source_ips = absl::GetFlag(FLAGS_source_ips);
  fo.threads = absl::GetFlag(FLAGS_threads);
  fo.enroll_concurrency = absl::GetFlag(FLAGS_enroll_concurrency);
  fo.crash_pct = absl::GetFlag(FLAGS_crash_pct);
  fo.hang_pct = absl::GetFlag(FLAGS_hang_pct);
  fo.lost_reboot_pct = absl::GetFlag(FLAGS_lost_reboot_pct);
  fo.failing_kb_pct = absl::GetFlag(FLAGS_failing_kb_pct);
  Fleet fleet(fo, &ctx);
  const int n = fleet.size();
  const absl::Duration timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds));
  std::printf("fleet: %d agents in %s, over %d source addresses, mix %s\n", n, root.c_str(),
              fo.source_ips, absl::GetFlag(FLAGS_mix).c_str());
  int exit_code = 0;
  bool booted = false;

  for (absl::string_view phase : absl::StrSplit(absl::GetFlag(FLAGS_phases), ',')) {
    if (ctx.stopping) break;
    v1::ServerStats before = Stats(op.get());
    stats.Reset();
    absl::Time t0 = absl::Now();
    if (phase == "enroll") {
      v1::CreateEnrollmentTokenRequest treq;
      treq.set_max_uses(n);
      treq.set_ttl_seconds(3600);
      (*treq.mutable_labels())["fleet"] = "fleetsim";
      v1::CreateEnrollmentTokenResponse token;
      if (absl::Status st = Call(op.get(), &Stub::CreateEnrollmentToken, treq, &token); !st.ok()) {
        std::cerr << "purser-fleetsim: token: " << st.message() << "\n";
        return 3;
      }
      int failures = 0;
      absl::Status st = fleet.Prepare(token.token(), &failures);
      double secs = absl::ToDoubleSeconds(absl::Now() - t0);
      std::printf("== enroll: %d agents ready in %.1f s, %d failed%s%s\n", n, secs, failures,
                  st.ok() ? "" : "; first: ", std::string(st.message()).c_str());
      std::printf("%s", FormatSummaries(stats.Summaries(), secs).c_str());
      Figure("enroll_seconds", secs);
      Figure("enroll_errors", failures);
      if (!st.ok()) exit_code = 1;
    } else if (phase == "load") {
      int failures = 0;
      absl::Status st = fleet.Prepare("", &failures);
      if (!st.ok()) {
        std::cerr << "purser-fleetsim: " << st.message() << "\n";
        return 1;
      }
    } else if (phase == "boot") {
      first_checkins.Start(t0);
      fleet.Boot(absl::Milliseconds(absl::GetFlag(FLAGS_boot_splay_ms)));
      booted = true;
      bool all = WaitFor([&] { return ctx.checked_in >= n; },
                         [&] { return absl::StrCat(ctx.checked_in.load(), "/", n, " checked in"); },
                         timeout, absl::Milliseconds(20));  // a local counter: cheap to ask
      double secs = absl::ToDoubleSeconds(absl::Now() - t0);
      auto after = Stats(op.get());
      double cpu = after.cpu_seconds() - before.cpu_seconds();
      std::printf(
          "== boot (%s): %lld/%d checked in after %.2f s; peak %lld new TLS connections/s; "
          "%lld RPC errors; server CPU %.1f s (%.0f%% of one core)\n",
          absl::GetFlag(FLAGS_boot_splay_ms) ? "with splay" : "storm",
          static_cast<long long>(ctx.checked_in.load()), n, secs,
          static_cast<long long>(first_checkins.PeakPerSecond()),
          static_cast<long long>(stats.TotalErrors()), cpu, 100 * cpu / secs);
      std::printf("%s", FormatSummaries(stats.Summaries(), secs).c_str());
      Figure("boot_seconds", secs);
      Figure("boot_checked_in", ctx.checked_in);
      Figure("boot_peak_handshakes_per_second", first_checkins.PeakPerSecond());
      Figure("boot_errors", stats.TotalErrors());
      Figure("boot_server_cpu_seconds", cpu);
      Figure("server_rss_before_boot_bytes", before.rss_bytes());
      if (!all) exit_code = 1;
    } else if (phase == "idle") {
      // Let the last check-ins settle into long polls, then measure.
      WaitFor([&] { return Stats(op.get()).parked_long_polls() >= n; }, [] { return "settling"; },
              absl::Seconds(30), absl::Milliseconds(500));
      auto s0 = Stats(op.get());
      absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_idle_seconds)));
      auto s1 = Stats(op.get());
      double secs = (s1.uptime_ms() - s0.uptime_ms()) / 1000.0;
      double cpu_pct = 100 * (s1.cpu_seconds() - s0.cpu_seconds()) / secs;
      std::printf(
          "== idle: %d agents waiting for work; server %.1f MiB resident, %d threads, "
          "CPU %.1f%% of one core over %.0f s\n",
          s1.parked_long_polls(), s1.rss_bytes() / 1048576.0, s1.threads(), cpu_pct, secs);
      Figure("idle_parked", s1.parked_long_polls());
      Figure("idle_server_rss_bytes", s1.rss_bytes());
      Figure("idle_server_cpu_percent", cpu_pct);
    } else if (phase == "campaign") {
      if (!booted) {
        fleet.Boot(absl::ZeroDuration());
        booted = true;
      }
      auto params = PrepareCampaign(op.get(), absl::GetFlag(FLAGS_plan));
      if (!params.ok()) {
        std::cerr << "purser-fleetsim: " << params.status().message() << "\n";
        return 3;
      }
      before = Stats(op.get());
      stats.Reset();
      t0 = absl::Now();
      v1::CreateCampaignRequest creq;
      creq.set_name(absl::StrCat("fleetsim-", n));
      creq.set_plan_name(absl::GetFlag(FLAGS_plan));
      creq.mutable_params()->insert(params->begin(), params->end());
      (*creq.mutable_target()->mutable_labels())["fleet"] = "fleetsim";
      creq.mutable_policy()->set_max_in_flight(absl::GetFlag(FLAGS_max_in_flight));
      creq.mutable_policy()->mutable_reboot_policy()->set_mode(v1::RebootPolicy::MODE_NOW);
      v1::Campaign campaign;
      if (absl::Status st = Call(op.get(), &Stub::CreateCampaign, creq, &campaign); !st.ok()) {
        std::cerr << "purser-fleetsim: campaign: " << st.message() << "\n";
        return 3;
      }
      auto current = [&] {
        v1::ListCampaignsResponse all;
        Call(op.get(), &Stub::ListCampaigns, v1::ListCampaignsRequest(), &all).IgnoreError();
        for (const auto& c : all.campaigns()) {
          if (c.id() == campaign.id()) campaign = c;
        }
        return campaign;
      };
      auto line = [&] {
        const auto& k = campaign.counters();
        return absl::StrCat(v1::CampaignState_Name(campaign.state()), ": ", k.done(), " done, ",
                            k.running(), " running, ", k.waiting_reboot(), " rebooting, ",
                            k.pending(), " pending, ", k.failed(), " failed, ", k.blocked(),
                            " blocked, ", k.skipped(), " skipped of ", k.members());
      };
      bool finished = WaitFor(
          [&] {
            auto s = current().state();
            return s != v1::CAMPAIGN_STATE_RUNNING && s != v1::CAMPAIGN_STATE_UNSPECIFIED;
          },
          line, timeout, absl::Milliseconds(500));
      double secs = absl::ToDoubleSeconds(absl::Now() - t0);
      auto after = Stats(op.get());
      int64_t txns = after.sqlite_transactions() - before.sqlite_transactions();
      int64_t writes = after.sqlite_writes() - before.sqlite_writes();
      double cpu = after.cpu_seconds() - before.cpu_seconds();
      int64_t rpcs = stats.TotalCalls();
      std::printf("== campaign %s with %s: %s after %.1f s\n", campaign.id().c_str(),
                  absl::GetFlag(FLAGS_plan).c_str(), line().c_str(), secs);
      std::printf(
          "  %lld agent RPCs (%.0f/s), %lld steps run, %lld reboots, %lld RPC errors; SQLite %lld "
          "transactions, %.1f writes each; server CPU %.1f s (%.0f%% of one core)\n",
          static_cast<long long>(rpcs), rpcs / secs, static_cast<long long>(ctx.steps_run.load()),
          static_cast<long long>(ctx.reboots.load()), static_cast<long long>(stats.TotalErrors()),
          static_cast<long long>(txns), txns ? 1.0 * writes / txns : 0.0, cpu, 100 * cpu / secs);
      std::printf("  faults acted out: %lld crashes, %lld hangs, %lld machines lost in a reboot\n",
                  static_cast<long long>(ctx.crashes.load()),
                  static_cast<long long>(ctx.hung.load()), static_cast<long long>(ctx.lost.load()));
      std::printf("%s", FormatSummaries(stats.Summaries(), secs).c_str());
      Figure("campaign_seconds", secs);
      Figure("campaign_done", campaign.counters().done());
      Figure("campaign_failed", campaign.counters().failed());
      Figure("campaign_rpcs", rpcs);
      Figure("campaign_rpc_errors", stats.TotalErrors());
      Figure("campaign_sqlite_transactions", txns);
      Figure("campaign_writes_per_transaction", txns ? 1.0 * writes / txns : 0.0);
      Figure("campaign_server_cpu_seconds", cpu);
      if (!finished) exit_code = 1;
    } else {
      std::cerr << "purser-fleetsim: --phases: unknown phase " << phase
                << " (enroll, load, boot, idle, campaign)\n";
      return 2;
    }
    std::fflush(stdout);
  }
  // Thousands of channels may still have calls in flight (a check-in waiting
  // out its deadline): cancel what can be, then let the OS reclaim the rest
  // rather than tear down objects gRPC callbacks may still reach.
  fleet.Stop(absl::Seconds(5));
  std::fflush(stdout);
  std::fflush(stderr);
  if (temporary) {
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  }
  std::_Exit(exit_code);
}

}  // namespace
}  // namespace purser::fleetsim

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("purser-fleetsim --ca ca.pem --cert admin.pem --key admin.key");
  absl::ParseCommandLine(argc, argv);
  // Abseil's lock-order checks cost ~5% of a handshake-heavy load: off when measuring.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return purser::fleetsim::Main();
}
