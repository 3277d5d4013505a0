// The agent over its life: it waits for a server that is not up yet, renews
// its certificate before expiry, rides out a server restart mid-run, and its
// operator sees it all through purserctl.
#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "purser/v1/operator.pb.h"
#include "shared/crypto.h"
#include "shared/files.h"
#include "shared/x509.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

TEST(AgentLifecycle, RenewsItsCertificateBeforeExpiry) {
  TempDir dir;
  // 60 s certificates (plus 5 min back-dating): under a third of life is left at once.
  TestServer server(dir.path(), {"--agent_cert_seconds=60"});
  ASSERT_TRUE(server.Start().ok());
  auto token_file = server.TokenFile(1);
  const std::string state = dir.Sub("agent");
  auto agent = StartAgent(server, state, *token_file, "win81-x64-ent");
  ASSERT_TRUE(agent.ok());
  ASSERT_TRUE(WaitUntil([&] {
    return (*agent)->Log().find("certificate renewed") != std::string::npos;
  })) << (*agent)->Log();
  auto cert = ParseCert(Slurp(state + "/cert.pem"));
  ASSERT_TRUE(cert.ok());
  // Renewal keeps the key, which the endpoint id is derived from: a later
  // re-enrollment finds the same endpoint.
  EXPECT_EQ(cert->public_key_der, *PublicKeyDerOfKey(Slurp(state + "/key.pem")));
  EXPECT_EQ(Sha256Hex(cert->public_key_der).substr(0, 32), cert->common_name);
  ASSERT_TRUE(WaitUntil([&] {
    auto list = server.List();
    return list.ok() && list->size() == 1 && list->front().cert_serial() == cert->serial_hex;
  })) << "the server does not know the renewed certificate";
  // The renewed identity still works: the agent keeps polling with it.
  auto params = server.OnboardParams("renewal-test-key");
  ASSERT_TRUE(server.StartRun("mde-downlevel-onboard", {}, *params).ok());
  ASSERT_TRUE(WaitUntil([&] {
    auto list = server.List();
    return list.ok() && list->front().state() == v1::ENDPOINT_STATE_ONBOARDED;
  }));
}

// An agent that stays connected renews when its certificate becomes due,
// not only when it checks in again.
TEST(AgentLifecycle, RenewsWhileConnected) {
  TempDir dir;
  // 165 s certificates back-dated 300 s: due once under 155 s is left,
  // some 10 s after enrollment, while the agent is long-polling.
  TestServer server(dir.path(), {"--agent_cert_seconds=165"});
  ASSERT_TRUE(server.Start().ok());
  auto token_file = server.TokenFile(1);
  auto agent = StartAgent(server, dir.Sub("agent"), *token_file, "win81-x64-ent");
  ASSERT_TRUE(agent.ok());
  ASSERT_TRUE(WaitUntil([&] { return (*agent)->Log().find("checked in") != std::string::npos; }));
  EXPECT_EQ((*agent)->Log().find("certificate renewed"), std::string::npos) << "not due yet";
  ASSERT_TRUE(
      WaitUntil([&] { return (*agent)->Log().find("certificate renewed") != std::string::npos; },
                absl::Seconds(45)))
      << (*agent)->Log();
  std::string log = (*agent)->Log();
  EXPECT_EQ(log.find("checked in"), log.rfind("checked in")) << "it never reconnected: " << log;
}

TEST(AgentLifecycle, RidesOutAServerRestartMidRun) {
  TempDir dir;
  TestServer server(dir.path());
  ASSERT_TRUE(server.Start().ok());
  auto token_file = server.TokenFile(1);
  auto agent = StartAgent(server, dir.Sub("a"), *token_file, "win7-sp1-x64-ent",
                          {"--sim_faults=slow_step_ms: 400"});
  ASSERT_TRUE(agent.ok());
  ASSERT_TRUE(WaitUntil([&] {
    auto l = server.List();
    return l.ok() && l->size() == 1;
  }));
  auto params = server.OnboardParams("restart-test-key");
  ASSERT_TRUE(server.StartRun("mde-downlevel-onboard", {}, *params).ok());
  ASSERT_TRUE(WaitUntil([&] {
    auto l = server.List();
    return l.ok() && l->front().current_step() >= 3;
  }));
  server.Kill(SIGKILL);
  server.Wait();
  absl::SleepFor(absl::Seconds(1));  // the agent notices and backs off
  ASSERT_TRUE(server.Start().ok());
  auto& again = agent;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto l = server.List();
        return l.ok() && l->front().state() == v1::ENDPOINT_STATE_ONBOARDED;
      },
      absl::Seconds(90)))
      << (*again)->Log();
}

// A fleet installed while the server is down (or before it is up) enrolls
// once it answers: the agent waits for an unreachable server, not for a
// service restart.
TEST(AgentLifecycle, EnrollsOnceTheServerAnswers) {
  TempDir dir;
  TestServer server(dir.path());
  ASSERT_TRUE(server.Start().ok());
  auto token_file = server.TokenFile(1);
  server.Kill(SIGTERM);
  server.Wait();
  auto agent = StartAgent(server, dir.Sub("a"), *token_file, "win81-x64-ent");
  ASSERT_TRUE(agent.ok());
  ASSERT_TRUE(WaitUntil([&] { return (*agent)->Log().find("retrying") != std::string::npos; },
                        absl::Seconds(60)))
      << (*agent)->Log();
  EXPECT_TRUE((*agent)->Running()) << (*agent)->Log();
  ASSERT_TRUE(server.Start().ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto l = server.List();
        return l.ok() && l->size() == 1 && (*agent)->Log().find("enrolled as") != std::string::npos;
      },
      absl::Seconds(60)))
      << (*agent)->Log();
  // The agent says which build it is: version and its own architecture.
  auto e = server.Get(server.List()->front().id());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->endpoint().agent_version(), "0.1.0");
  EXPECT_EQ(e->endpoint().agent_arch(), v1::ARCH_X64);
}

TEST(AgentLifecycle, PurserctlTablesJsonAndExitCodes) {
  TempDir dir;
  TestServer server(dir.path());
  ASSERT_TRUE(server.Start().ok());
  auto token_file = server.TokenFile(2);
  auto a = StartAgent(server, dir.Sub("a"), *token_file, "win81-x64-ent");
  auto b = StartAgent(server, dir.Sub("b"), *token_file, "win10-x64-ent");
  ASSERT_TRUE(WaitUntil([&] {
    auto l = server.List();
    return l.ok() && l->size() == 2;
  }));
  std::string out;
  ASSERT_EQ(RunCtl(server, "endpoints list -o json", &out), 0) << out;
  v1::ListEndpointsResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &parsed).ok()) << out;
  EXPECT_EQ(parsed.endpoints_size(), 2);
  ASSERT_EQ(RunCtl(server, "endpoints list --state UNSUPPORTED", &out), 0);
  EXPECT_NE(out.find("win10-x64-ent"), std::string::npos) << out;
  EXPECT_EQ(out.find("win81-x64-ent"), std::string::npos) << out;
  // Filters: by OS, then by a label set through the CLI.
  ASSERT_EQ(RunCtl(server, "endpoints list --product WINDOWS_8_1", &out), 0);
  EXPECT_NE(out.find("win81-x64-ent"), std::string::npos) << out;
  EXPECT_EQ(out.find("win10-x64-ent"), std::string::npos) << out;
  std::string id81 = parsed.endpoints(0).hostname() == "win81-x64-ent" ? parsed.endpoints(0).id()
                                                                       : parsed.endpoints(1).id();
  ASSERT_EQ(RunCtl(server, "endpoints labels " + id81.substr(0, 10) + " --labels ring=pilot", &out),
            0)
      << out;
  ASSERT_EQ(RunCtl(server, "endpoints list --labels ring=pilot -o json", &out), 0);
  v1::ListEndpointsResponse pilot;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &pilot).ok()) << out;
  ASSERT_EQ(pilot.endpoints_size(), 1);
  EXPECT_EQ(pilot.endpoints(0).id(), id81);
  ASSERT_EQ(RunCtl(server, "endpoints list --not_seen_for 1h", &out), 0);
  EXPECT_EQ(out.find("win81"), std::string::npos) << "seen just now: " << out;
  // Counts by state, with the same filters; the server's own figures.
  ASSERT_EQ(RunCtl(server, "endpoints count -o json", &out), 0) << out;
  v1::EndpointCounts counts;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &counts).ok()) << out;
  EXPECT_EQ(counts.total(), 2);
  ASSERT_EQ(RunCtl(server, "endpoints count --state UNSUPPORTED", &out), 0);
  EXPECT_NE(out.find("UNSUPPORTED  1"), std::string::npos) << out;
  EXPECT_NE(out.find("TOTAL        1"), std::string::npos) << out;
  ASSERT_EQ(RunCtl(server, "server stats -o json", &out), 0) << out;
  v1::ServerStats stats;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &stats).ok()) << out;
  EXPECT_EQ(stats.endpoints(), 2);
  EXPECT_GT(stats.rss_bytes(), 0);
  EXPECT_GT(stats.sqlite_transactions(), 0);
  EXPECT_EQ(RunCtl(server, "endpoints get 0123456789abcdef", &out), 5) << out;
  // Plans: a broken one is refused with file:line, a good one is used at once.
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("bad.textproto"), "name: \"b\"\nsteps { idd: 1 }\n").ok());
  EXPECT_EQ(RunCtl(server, "plan upload " + dir.Sub("bad.textproto"), &out), 1);
  EXPECT_NE(out.find("bad.textproto:2:"), std::string::npos) << out;
  std::string good = Slurp(std::string(PURSER_TEST_PLANS_DIR) + "/lease-test.textproto");
  good.replace(good.find("lease-test"), 10, "uploaded-x");
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("good.textproto"), good).ok());
  ASSERT_EQ(RunCtl(server, "plan upload " + dir.Sub("good.textproto"), &out), 0) << out;
  ASSERT_EQ(RunCtl(server, "plans list", &out), 0);
  EXPECT_NE(out.find("uploaded-x"), std::string::npos) << out;
  EXPECT_EQ(RunCtl(server, "run start --plan nope --all", &out), 5) << out;
  EXPECT_EQ(RunCtl(server, "frobnicate", &out), 2) << out;
  EXPECT_EQ(RunCtl(server, "token create --out " + dir.Sub("t.txt"), &out), 0) << out;
  std::string token = Slurp(dir.Sub("t.txt"));
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(out.find(token.substr(0, token.size() - 1)), std::string::npos) << "token printed";
  server.Kill(SIGTERM);
  server.Wait();
  EXPECT_EQ(RunCtl(server, "endpoints list", &out), 3) << out;
  EXPECT_NE(out.find("unreachable"), std::string::npos) << out;
}

// Mistakes on the command line or in the files given are named, with the
// documented exit codes, and no gRPC log line reaches the operator.
TEST(AgentLifecycle, PurserctlNamesBadFlagsAndFiles) {
  TempDir dir;
  TestServer server(dir.path());
  ASSERT_TRUE(server.Start().ok());
  std::string out;
  EXPECT_EQ(RunCtl(server, "--bogus endpoints list", &out), 2) << out;
  EXPECT_NE(out.find("unknown flag --bogus"), std::string::npos) << out;
  EXPECT_EQ(RunCtl(server, "endpoints list --page_size=many", &out), 2) << out;
  EXPECT_NE(out.find("--page_size"), std::string::npos) << out;
  EXPECT_EQ(RunCtl(server, "--help", &out), 0) << out;
  EXPECT_NE(out.find("Commands:"), std::string::npos) << out;
  EXPECT_EQ(out.find("No flags matched"), std::string::npos) << out;
  EXPECT_EQ(RunCtl(server, "run start --plan lease-test --all --params workspace", &out), 2);
  EXPECT_NE(out.find("\"workspace\" is not key=value"), std::string::npos) << out;

  ASSERT_TRUE(WriteFileAtomic(dir.Sub("junk.pem"), "not pem at all").ok());
  EXPECT_EQ(RunCtl(server, "--ca=" + dir.Sub("junk.pem") + " endpoints list", &out), 2) << out;
  EXPECT_NE(out.find(dir.Sub("junk.pem")), std::string::npos) << out;
  std::string admin = server.data_dir() + "/admin";
  EXPECT_EQ(RunCtl(server, "--cert=" + admin + ".key --key=" + admin + ".pem endpoints list", &out),
            2)
      << out;
  EXPECT_NE(out.find("swapped"), std::string::npos) << out;
  EXPECT_NE(out.find(admin + ".key"), std::string::npos) << out;

  // A certificate from another CA: the server would refuse it, and it says so.
  std::string key = *GenerateKeyPem();
  auto other_ca = MakeSelfSignedCa(key, {"Other CA", "", 3600, true, {}, {}});
  std::string leaf_key = *GenerateKeyPem();
  auto leaf = IssueCert(key, other_ca->pem, *PublicKeyDerOfKey(leaf_key),
                        {"mallory", "admin", 3600, false, {}, {}});
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("m.pem"), leaf->pem).ok());
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("m.key"), leaf_key, 0600).ok());
  EXPECT_EQ(
      RunCtl(server,
             "--cert=" + dir.Sub("m.pem") + " --key=" + dir.Sub("m.key") + " endpoints list", &out),
      4)
      << out;
  EXPECT_NE(out.find("refuses certificate " + dir.Sub("m.pem")), std::string::npos) << out;

  EXPECT_EQ(RunCtl(server, "--server=127.0.0.1:1 endpoints list", &out), 3) << out;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    EXPECT_FALSE(line.size() > 5 && (line[0] == 'E' || line[0] == 'I' || line[0] == 'W') &&
                 absl::ascii_isdigit(line[1]) && absl::ascii_isdigit(line[4]))
        << "a gRPC log line: " << line;
  }
}

}  // namespace
}  // namespace purser::testing
