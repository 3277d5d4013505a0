// The Prometheus endpoint of a real server, scraped over a real socket while
// real agents onboard through a campaign: every figure is the one the fleet,
// the store and the certificates say.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "shared/crypto.h"
#include "shared/x509.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

// A scrape: each sample line's series ("name{labels}") and value. Fails the
// test on a line that is not in the text format, a series given twice, or a
// sample whose metric has no # TYPE line before it.
std::map<std::string, double> Parse(const std::string& text) {
  std::map<std::string, double> out;
  std::set<std::string> typed;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "# TYPE ")) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      EXPECT_EQ(parts.size(), 4u) << line;
      if (parts.size() == 4) typed.insert(parts[2]);
      continue;
    }
    if (absl::StartsWith(line, "# HELP ")) continue;
    size_t space = line.rfind(' ');
    EXPECT_NE(space, absl::string_view::npos) << line;
    if (space == absl::string_view::npos) continue;
    std::string series(line.substr(0, space));
    double v = 0;
    EXPECT_TRUE(absl::SimpleAtod(line.substr(space + 1), &v)) << line;
    EXPECT_TRUE(out.emplace(series, v).second) << "twice: " << series;
    std::string name = series.substr(0, series.find('{'));
    bool known = typed.count(name) > 0;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (absl::EndsWith(name, suffix)) {
        known = known || typed.count(name.substr(0, name.size() - strlen(suffix))) > 0;
      }
    }
    EXPECT_TRUE(known) << "no # TYPE for " << series;
  }
  return out;
}

double Get(const std::map<std::string, double>& m, const std::string& series) {
  auto it = m.find(series);
  return it == m.end() ? -1 : it->second;
}

// The sum of the samples of `name` whose labels contain every one of `labels`.
double Sum(const std::map<std::string, double>& m, const std::string& name,
           const std::vector<std::string>& labels = {}) {
  double sum = 0;
  for (const auto& [series, v] : m) {
    if (series.substr(0, series.find('{')) != name) continue;
    bool all = true;
    for (const auto& l : labels) all = all && absl::StrContains(series, l);
    if (all) sum += v;
  }
  return sum;
}

std::string Rpc(const std::string& service, const std::string& method, const std::string& code) {
  return absl::StrCat("purser_grpc_server_handled_total{grpc_service=\"purser.v1.", service,
                      "\",grpc_method=\"", method, "\",grpc_type=\"unary\",grpc_code=\"", code,
                      "\"}");
}

std::string Short(const std::string& full, const std::string& prefix) {
  return full.substr(prefix.size());
}

class MetricsTest : public ::testing::Test {
 protected:
  std::map<std::string, double> Scrape() {
    auto text = server_->ScrapeMetrics();
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? Parse(*text) : std::map<std::string, double>{};
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(MetricsTest, AnOnboardingCampaignShowsInEveryFigure) {
  const int64_t started_s = absl::ToUnixSeconds(absl::Now());
  server_ =
      std::make_unique<TestServer>(dir_.path(), std::vector<std::string>{"--lease_grace_ms=300"});
  ASSERT_TRUE(server_->Start().ok());
  ASSERT_GT(server_->metrics_port(), 0);

  // Three real agents (one on an OS the method does not cover) and a raw one
  // that leases a job and never answers.
  auto token_file = server_->TokenFile(3);
  ASSERT_TRUE(token_file.ok()) << token_file.status();
  std::vector<std::unique_ptr<Process>> agents;
  for (const char* p : {"win7-sp1-x64-ent", "win81-x64-ent", "win10-x64-ent"}) {
    auto a = StartAgent(*server_, dir_.Sub(p), *token_file, p);
    ASSERT_TRUE(a.ok());
    agents.push_back(std::move(*a));
  }
  auto token = server_->Token(1);
  ASSERT_TRUE(token.ok());
  auto silent = EnrollRaw(*server_, *token, Win7Inventory("silent"), dir_.Sub("silent"));
  ASSERT_TRUE(silent.ok()) << silent.status();
  const std::string silent_id = silent->identity.endpoint_id;
  std::map<std::string, std::string> ids;  // hostname -> id
  ASSERT_TRUE(WaitUntil([&] {
    auto list = server_->List();
    if (!list.ok()) return false;
    for (const auto& e : *list) ids[e.hostname()] = e.id();
    return list->size() == 4;
  })) << server_->Log();

  // The silent endpoint's one step times out twice (max_attempts 2): it
  // takes each attempt and says nothing (polling again would extend the lease).
  ASSERT_TRUE(server_->StartRun("lease-test", {silent_id}, {}).ok());
  for (int attempt = 1; attempt <= 2; ++attempt) {
    v1::WaitForWorkResponse work;
    ASSERT_TRUE(WaitUntil(
        [&] {
          v1::WaitForWorkRequest req;
          req.set_wait_seconds(2);
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
          return silent->stub->WaitForWork(&ctx, req, &work).ok() && work.has_job();
        },
        absl::Seconds(20)));
    EXPECT_EQ(work.job().attempt(), attempt);
    ASSERT_TRUE(WaitUntil(
        [&] {
          auto e = server_->Get(silent_id);
          return e.ok() && e->jobs_size() == 1 && e->jobs(0).timed_out_attempts() == attempt;
        },
        absl::Seconds(20)));
  }
  // Reports of a job that does not exist: refused, each one counted.
  std::map<grpc::StatusCode, int> refused;
  for (int i = 0; i < 3; ++i) {
    v1::ReportResultRequest r;
    r.set_job_id("j-" + RandomHex(8));
    r.set_attempt(1);
    r.set_outcome(v1::STEP_OUTCOME_SUCCEEDED);
    v1::ReportResultResponse ack;
    grpc::ClientContext ctx;
    refused[silent->stub->ReportResult(&ctx, r, &ack).error_code()]++;
  }
  ASSERT_EQ(refused.size(), 1u);
  const std::string refused_code =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(refused.begin()->first));
  EXPECT_NE(refused_code, "OK");

  // An onboarding campaign over the three real agents.
  auto params = server_->OnboardParams("wk-" + RandomHex(16));
  ASSERT_TRUE(params.ok()) << params.status();
  v1::CreateCampaignRequest req;
  req.set_name("metrics");
  req.set_plan_name("mde-downlevel-onboard");
  for (const auto& [k, v] : *params) (*req.mutable_params())[k] = v;
  for (const char* h : {"win7-sp1-x64-ent", "win81-x64-ent", "win10-x64-ent"}) {
    req.mutable_target()->add_endpoint_ids(ids[h]);
  }
  req.mutable_policy()->add_waves()->set_percent(100);
  v1::Campaign campaign;
  {
    grpc::ClientContext ctx;
    grpc::Status st = server_->Admin()->CreateCampaign(&ctx, req, &campaign);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        v1::GetCampaignRequest g;
        g.set_id(campaign.id());
        v1::GetCampaignResponse resp;
        grpc::ClientContext ctx;
        return server_->Admin()->GetCampaign(&ctx, g, &resp).ok() &&
               resp.campaign().state() == v1::CAMPAIGN_STATE_COMPLETED;
      },
      absl::Seconds(90)))
      << server_->Log();
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto e = server_->Get(silent_id);
        return e.ok() && e->jobs_size() == 1 && e->jobs(0).state() == v1::JOB_STATE_TIMED_OUT;
      },
      absl::Seconds(20)));

  // What the fleet says, to compare with.
  auto list = server_->List();
  ASSERT_TRUE(list.ok());
  std::map<std::string, double> want_endpoints;
  int succeeded_jobs = 0;
  for (const auto& e : *list) {
    want_endpoints[absl::StrCat(
        "purser_endpoints{state=\"", Short(v1::EndpointState_Name(e.state()), "ENDPOINT_STATE_"),
        "\",os=\"", Short(v1::OsProduct_Name(e.os().product()), "OS_PRODUCT_"), "\"}")]++;
    auto detail = server_->Get(e.id());
    ASSERT_TRUE(detail.ok());
    for (const auto& j : detail->jobs()) succeeded_jobs += j.state() == v1::JOB_STATE_SUCCEEDED;
  }
  EXPECT_EQ(want_endpoints.at("purser_endpoints{state=\"ONBOARDED\",os=\"WINDOWS_7\"}"), 1);
  EXPECT_EQ(want_endpoints.at("purser_endpoints{state=\"ONBOARDED\",os=\"WINDOWS_8_1\"}"), 1);
  EXPECT_EQ(want_endpoints.at("purser_endpoints{state=\"UNSUPPORTED\",os=\"WINDOWS_10\"}"), 1);
  EXPECT_EQ(want_endpoints.at("purser_endpoints{state=\"FAILED\",os=\"WINDOWS_7\"}"), 1);
  v1::ListCertificatesResponse certs;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(
        server_->Admin()->ListCertificates(&ctx, v1::ListCertificatesRequest(), &certs).ok());
  }

  // The store's figures are cached for a few seconds: scrape until they caught up.
  std::map<std::string, double> m;
  bool caught_up = WaitUntil(
      [&] {
        m = Scrape();
        for (const auto& [series, n] : want_endpoints) {
          if (Get(m, series) != n) return false;
        }
        return Sum(m, "purser_endpoints") == 4 &&
               Get(m, absl::StrCat("purser_campaign_members{campaign=\"", campaign.id(),
                                   "\",state=\"DONE\"}")) == 2 &&
               Get(m, "purser_long_polls_parked") >= 1;
      },
      absl::Seconds(20));
  ASSERT_TRUE(caught_up) << server_->ScrapeMetrics().value_or("(no scrape)");

  // Endpoints per state and OS: every state of each OS present, zeros included.
  EXPECT_EQ(Get(m, "purser_endpoints{state=\"IN_PROGRESS\",os=\"WINDOWS_8_1\"}"), 0);

  // Campaign progress.
  const std::string c = absl::StrCat("campaign=\"", campaign.id(), "\"");
  EXPECT_EQ(Get(m, absl::StrCat("purser_campaign_members{", c, ",state=\"SKIPPED\"}")), 1);
  EXPECT_EQ(Get(m, absl::StrCat("purser_campaign_members{", c, ",state=\"FAILED\"}")), 0);
  EXPECT_EQ(Get(m, absl::StrCat("purser_campaign_members{", c, ",state=\"RUNNING\"}")), 0);
  EXPECT_EQ(Get(m, absl::StrCat("purser_campaign_info{", c,
                                ",name=\"metrics\",plan=\"mde-downlevel-onboard\",state="
                                "\"COMPLETED\"}")),
            1);
  EXPECT_EQ(Get(m, "purser_campaigns{state=\"COMPLETED\"}"), 1);
  EXPECT_EQ(Get(m, "purser_campaigns{state=\"RUNNING\"}"), 0);

  // RPCs: exact where the test made every call, bounded below by the work done otherwise.
  EXPECT_EQ(Get(m, Rpc("AgentService", "ReportResult", refused_code)), 3);
  EXPECT_GE(Get(m, Rpc("AgentService", "ReportResult", "OK")), succeeded_jobs);
  EXPECT_GT(succeeded_jobs, 0);
  EXPECT_EQ(Get(m, Rpc("OperatorService", "CreateEnrollmentToken", "OK")), 2);
  EXPECT_EQ(Get(m, Rpc("OperatorService", "CreateCampaign", "OK")), 1);
  EXPECT_EQ(Get(m, Rpc("OperatorService", "StartRun", "OK")), 1);
  EXPECT_EQ(Get(m, Rpc("AgentService", "Enroll", "OK")), 4);
  const std::string report = "grpc_method=\"ReportResult\"";
  EXPECT_EQ(Sum(m, "purser_grpc_server_handling_seconds_count", {report}),
            Sum(m, "purser_grpc_server_handled_total", {report}));
  EXPECT_EQ(Sum(m, "purser_grpc_server_started_total", {report}),
            Sum(m, "purser_grpc_server_handled_total", {report}));
  // Long polls and streams are timed apart from the calls answered at once.
  EXPECT_EQ(Sum(m, "purser_grpc_server_handling_seconds_count", {"WaitForWork"}), 0);
  EXPECT_GT(Sum(m, "purser_grpc_server_long_call_seconds_count", {"WaitForWork"}), 0);
  EXPECT_GE(Sum(m, "purser_grpc_server_long_call_seconds_count", {"UploadArtifact"}), 1);
  EXPECT_GT(Sum(m, "purser_grpc_server_handled_total",
                {"grpc_method=\"UploadArtifact\"", "grpc_type=\"client_stream\""}),
            0);

  // The store: leases that expired, group commits.
  EXPECT_EQ(Get(m, "purser_leases_expired_total"), 2);
  EXPECT_GT(Get(m, "purser_sqlite_group_commit_seconds_count"), 0);
  EXPECT_EQ(Get(m, "purser_sqlite_group_commit_seconds_count"),
            Get(m, "purser_sqlite_group_commit_writes_count"));
  EXPECT_GE(Get(m, "purser_sqlite_group_commit_writes_sum"),
            Get(m, "purser_sqlite_group_commit_writes_count"));
  EXPECT_EQ(Get(m, "purser_metrics_store_errors_total"), 0);

  // Certificates: the data directory's, and the earliest of those in use.
  auto ca = ParseCert(Slurp(server_->ca_path()));
  auto srv = ParseCert(Slurp(server_->data_dir() + "/server.pem"));
  ASSERT_TRUE(ca.ok() && srv.ok());
  EXPECT_EQ(Get(m, "purser_certificate_expiry_timestamp_seconds{certificate=\"ca\"}"),
            ca->not_after_ms / 1000);
  EXPECT_EQ(Get(m, "purser_certificate_expiry_timestamp_seconds{certificate=\"server\"}"),
            srv->not_after_ms / 1000);
  int64_t agent_first = 0, operator_first = 0;
  for (const auto& cert : certs.certificates()) {
    int64_t& first = cert.role() == "agent" ? agent_first : operator_first;
    if (first == 0 || cert.not_after_unix_ms() < first) first = cert.not_after_unix_ms();
  }
  EXPECT_EQ(Get(m, "purser_client_certificate_earliest_expiry_timestamp_seconds{kind=\"agent\"}"),
            agent_first / 1000);
  EXPECT_EQ(
      Get(m, "purser_client_certificate_earliest_expiry_timestamp_seconds{kind=\"operator\"}"),
      operator_first / 1000);
  EXPECT_EQ(Get(m, "purser_client_certificates{kind=\"agent\",validity=\"valid\"}"), 4);
  EXPECT_EQ(Get(m, "purser_client_certificates{kind=\"agent\",validity=\"expired\"}"), 0);
  EXPECT_EQ(Get(m, "purser_client_certificates{kind=\"operator\",validity=\"valid\"}"), 1);

  // The process.
  EXPECT_EQ(Get(m, absl::StrCat("purser_build_info{version=\"", PURSER_VERSION, "\"}")), 1);
  EXPECT_GE(Get(m, "process_start_time_seconds"), started_s - 1);
  EXPECT_LE(Get(m, "process_start_time_seconds"), absl::ToUnixSeconds(absl::Now()));
  EXPECT_GT(Get(m, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GT(Get(m, "process_threads"), 1);

  // The sample dashboard is JSON and queries only metrics this scrape has.
  const std::string dashboard = Slurp(PURSER_GRAFANA_DASHBOARD);
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(dashboard, &parsed).ok());
  std::set<std::string> scraped;
  for (const auto& [series, v] : m) scraped.insert(series.substr(0, series.find('{')));
  const std::regex name("\\b(purser|process)_[a-z0-9_]+\\b");
  int used = 0;
  for (auto it = std::sregex_iterator(dashboard.begin(), dashboard.end(), name);
       it != std::sregex_iterator(); ++it, ++used) {
    EXPECT_TRUE(scraped.count(it->str()) > 0) << "the dashboard uses " << it->str();
  }
  EXPECT_GT(used, 20);

  // The endpoint stops with the server, cleanly.
  server_->Kill(SIGTERM);
  EXPECT_EQ(server_->Wait(), 0) << server_->Log();
  EXPECT_FALSE(server_->ScrapeMetrics().ok());
}

TEST_F(MetricsTest, NoEndpointWhenEmptyAndABusyPortIsRefusedByName) {
  server_ = std::make_unique<TestServer>(dir_.Sub("a"));
  ASSERT_TRUE(server_->Start().ok());
  TestServer off(dir_.Sub("b"), {"--metrics_listen="});
  ASSERT_TRUE(off.Start().ok()) << off.Log();
  EXPECT_EQ(off.metrics_port(), 0);
  EXPECT_EQ(off.Log().find("metrics on port"), std::string::npos) << off.Log();

  const std::string taken = absl::StrCat("127.0.0.1:", server_->metrics_port());
  TestServer busy(dir_.Sub("c"), {"--metrics_listen=" + taken});
  absl::Status st = busy.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(busy.Wait(), 1);
  EXPECT_TRUE(absl::StrContains(busy.Log(), "cannot serve metrics on " + taken)) << busy.Log();
}

}  // namespace
}  // namespace purser::testing
