// purser-agent: the thin agent on an endpoint. See README.md.
#include <csignal>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/agent.h"
#include "client/posix_executor.h"
#include "client/sim/sim_windows.h"
#include "google/protobuf/text_format.h"
#include "shared/files.h"
#include "shared/logging.h"

ABSL_FLAG(std::string, server, "127.0.0.1:7443", "control server host:port");
ABSL_FLAG(std::string, state_dir, "", "where the agent keeps its key, certificate and journal");
ABSL_FLAG(std::string, ca, "", "CA certificate to trust at enrollment (the server's ca.pem)");
ABSL_FLAG(std::string, token_file, "", "file holding the enrollment token (first start only)");
ABSL_FLAG(std::string, executor, "sim", "sim (simulated Windows) or posix");
ABSL_FLAG(std::string, sim_profile, "", "simulated machine profile, e.g. win7-sp1-x64-ent");
ABSL_FLAG(std::string, sim_hostname, "", "simulated machine's hostname");
ABSL_FLAG(std::string, sim_faults, "", "faults to inject, as purser.v1.SimFaults text format");
ABSL_FLAG(int, wait_seconds, 25, "long-poll length");
ABSL_FLAG(bool, exit_when_done, false, "exit once the endpoint is in a final state with no work");
ABSL_FLAG(bool, allow_run_command, false,
          "run plan steps that execute arbitrary commands (as the agent's account); off, a "
          "compromised server cannot run commands on this endpoint");
ABSL_FLAG(bool, reenroll, false,
          "enroll again with --token_file even though enrolled (after revocation or expiry); "
          "the key, and so the endpoint id, are kept");

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }
}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "purser-agent --server=HOST:PORT --state_dir=DIR [--ca=ca.pem --token_file=F]");
  absl::ParseCommandLine(argc, argv);
  std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  if (state_dir.empty()) {
    std::cerr << "purser-agent: --state_dir is required\n";
    return 2;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  if (auto st = purser::MakeDirs(state_dir, 0700); !st.ok()) {
    std::cerr << "purser-agent: " << st.message() << "\n";
    return 1;
  }

  std::unique_ptr<purser::client::Executor> executor;
  if (absl::GetFlag(FLAGS_executor) == "sim") {
    purser::v1::SimFaults faults;
    bool have_faults = !absl::GetFlag(FLAGS_sim_faults).empty();
    if (have_faults &&
        !google::protobuf::TextFormat::ParseFromString(absl::GetFlag(FLAGS_sim_faults), &faults)) {
      std::cerr << "purser-agent: --sim_faults is not valid purser.v1.SimFaults text format\n";
      return 2;
    }
    std::string hostname = absl::GetFlag(FLAGS_sim_hostname);
    if (hostname.empty()) hostname = absl::GetFlag(FLAGS_sim_profile);
    auto sim = purser::client::sim::SimWindows::Open(state_dir + "/machine.textproto",
                                                     absl::GetFlag(FLAGS_sim_profile), hostname,
                                                     have_faults ? &faults : nullptr);
    if (!sim.ok()) {
      std::cerr << "purser-agent: " << sim.status().message() << "\n";
      return 1;
    }
    if ((*sim)->Snapshot().down()) {
      std::cerr << "purser-agent: the simulated machine never came back from its reboot\n";
      return 3;
    }
    executor = std::move(*sim);
  } else if (absl::GetFlag(FLAGS_executor) == "posix") {
    executor = std::make_unique<purser::client::PosixExecutor>();
  } else {
    std::cerr << "purser-agent: --executor must be sim or posix\n";
    return 2;
  }
  purser::SetLogPrefix(absl::StrCat("agent ", executor->Inventory().hostname(), ": "));

  auto identity = purser::client::LoadIdentity(state_dir);
  if (absl::IsNotFound(identity.status()) || absl::GetFlag(FLAGS_reenroll)) {
    if (absl::GetFlag(FLAGS_ca).empty() || absl::GetFlag(FLAGS_token_file).empty()) {
      std::cerr << "purser-agent: not enrolled yet: give --ca and --token_file\n";
      return 2;
    }
    auto ca = purser::ReadFile(absl::GetFlag(FLAGS_ca));
    auto token = purser::ReadFile(absl::GetFlag(FLAGS_token_file));
    if (!ca.ok() || !token.ok()) {
      std::cerr << "purser-agent: " << (!ca.ok() ? ca.status() : token.status()).message() << "\n";
      return 1;
    }
    std::string t(absl::StripAsciiWhitespace(*token));
    purser::RegisterSecret(t);
    purser::v1::Inventory inv = executor->Inventory();
    inv.set_agent_version(PURSER_VERSION);
    identity = purser::client::Enroll(absl::GetFlag(FLAGS_server), *ca, t, inv, state_dir);
    if (identity.ok()) purser::LogInfo("enrolled as %s", identity->endpoint_id);
  }
  if (!identity.ok()) {
    std::cerr << "purser-agent: " << identity.status().message() << "\n";
    return 1;
  }
  purser::client::AgentOptions options;
  options.server = absl::GetFlag(FLAGS_server);
  options.state_dir = state_dir;
  options.wait_seconds = absl::GetFlag(FLAGS_wait_seconds);
  options.exit_when_done = absl::GetFlag(FLAGS_exit_when_done);
  options.allow_run_command = absl::GetFlag(FLAGS_allow_run_command);
  purser::client::Agent agent(options, *identity, executor.get());
  absl::Status st = agent.Run(g_stop);
  if (!st.ok()) {
    std::cerr << "purser-agent: " << st.message() << "\n";
    return absl::IsUnavailable(st) ? 3 : 1;
  }
  return 0;
}
