// What the server refuses: missing or foreign certificates, bad tokens, one
// endpoint touching another's jobs, the wrong kind of caller, oversized or
// malformed requests.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "shared/grpc_options.h"
#include "shared/x509.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

grpc::ClientContext* Ctx(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path());
    ASSERT_TRUE(server_->Start().ok());
  }
  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(SecurityTest, NoClientCertificateIsRefused) {
  auto channel = MakeTlsChannel(server_->address(), TlsFiles{server_->ca_pem(), "", ""});
  auto agent = v1::AgentService::NewStub(channel);
  v1::CheckInResponse resp;
  grpc::ClientContext ctx;
  EXPECT_EQ(agent->CheckIn(Ctx(&ctx), v1::CheckInRequest(), &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto op = v1::OperatorService::NewStub(channel);
  v1::ListEndpointsResponse list;
  grpc::ClientContext ctx2;
  EXPECT_EQ(op->ListEndpoints(Ctx(&ctx2), v1::ListEndpointsRequest(), &list).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(SecurityTest, HealthIsAnsweredWithoutAClientCertificate) {
  // grpc.health.v1.Health/Check with an empty request; SERVING is field 1 = 1.
  auto channel = MakeTlsChannel(server_->address(), TlsFiles{server_->ca_pem(), "", ""});
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::ByteBuffer request, response;
  grpc::Slice empty;
  request = grpc::ByteBuffer(&empty, 1);
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status st) {
                   std::lock_guard<std::mutex> lock(mu);
                   status = st;
                   done = true;
                   cv.notify_one();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

TEST_F(SecurityTest, CertificateFromAnotherCaIsRefused) {
  auto other_key = GenerateKeyPem();
  ASSERT_TRUE(other_key.ok());
  auto other_ca = MakeSelfSignedCa(*other_key, {"Other CA", "", 3600, true, {}, {}});
  ASSERT_TRUE(other_ca.ok());
  auto key = GenerateKeyPem();
  auto pub = PublicKeyDerOfKey(*key);
  auto cert = IssueCert(*other_key, other_ca->pem, *pub, {"admin", "admin", 3600, false, {}, {}});
  ASSERT_TRUE(cert.ok());
  auto op = v1::OperatorService::NewStub(
      MakeTlsChannel(server_->address(), TlsFiles{server_->ca_pem(), cert->pem, *key}));
  v1::ListEndpointsResponse list;
  grpc::ClientContext ctx;
  grpc::Status st = op->ListEndpoints(Ctx(&ctx), v1::ListEndpointsRequest(), &list);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
}

TEST_F(SecurityTest, ExpiredTokenIsRefused) {
  auto token = server_->Token(5, 1);
  ASSERT_TRUE(token.ok());
  absl::SleepFor(absl::Milliseconds(1300));
  auto a = EnrollRaw(*server_, *token, Win7Inventory("late"), dir_.Sub("late"));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(a.status().message().find("expired"), std::string::npos) << a.status();
}

TEST_F(SecurityTest, UsedUpAndForgedTokensAreRefused) {
  auto token = server_->Token(1);
  ASSERT_TRUE(token.ok());
  ASSERT_TRUE(EnrollRaw(*server_, *token, Win7Inventory("first"), dir_.Sub("first")).ok());
  auto second = EnrollRaw(*server_, *token, Win7Inventory("second"), dir_.Sub("second"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(second.status().message().find("used up"), std::string::npos) << second.status();

  auto fresh = server_->Token(5);
  ASSERT_TRUE(fresh.ok());
  std::string forged = fresh->substr(0, fresh->find('.') + 1) + "00000000000000000000000000000000";
  auto bad = EnrollRaw(*server_, forged, Win7Inventory("forged"), dir_.Sub("forged"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kPermissionDenied);
  auto malformed = EnrollRaw(*server_, "no-dot-here", Win7Inventory("m"), dir_.Sub("m"));
  EXPECT_EQ(malformed.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SecurityTest, EndpointCannotPullOrReportAnothersJobs) {
  auto token = server_->Token(2);
  ASSERT_TRUE(token.ok());
  auto a = EnrollRaw(*server_, *token, Win7Inventory("a"), dir_.Sub("a"));
  auto b = EnrollRaw(*server_, *token, Win7Inventory("b"), dir_.Sub("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  auto run = server_->StartRun("lease-test", {b->identity.endpoint_id}, {});
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->started_size(), 1);

  v1::WaitForWorkRequest wait;
  wait.set_wait_seconds(1);
  v1::WaitForWorkResponse a_work, b_work;
  grpc::ClientContext c1, c2;
  ASSERT_TRUE(a->stub->WaitForWork(Ctx(&c1), wait, &a_work).ok());
  EXPECT_FALSE(a_work.has_job()) << "A was handed B's job";
  ASSERT_TRUE(b->stub->WaitForWork(Ctx(&c2), wait, &b_work).ok());
  ASSERT_TRUE(b_work.has_job());

  v1::ReportResultRequest report;
  report.set_job_id(b_work.job().job_id());
  report.set_attempt(b_work.job().attempt());
  report.set_outcome(v1::STEP_OUTCOME_FAILED);
  v1::ReportResultResponse ack;
  grpc::ClientContext c3;
  grpc::Status st = a->stub->ReportResult(Ctx(&c3), report, &ack);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  auto detail = server_->Get(b->identity.endpoint_id);
  ASSERT_TRUE(detail.ok());
  ASSERT_EQ(detail->jobs_size(), 1);
  EXPECT_EQ(detail->jobs(0).state(), v1::JOB_STATE_LEASED);
}

TEST_F(SecurityTest, AgentsAndOperatorsCannotSwapRoles) {
  auto token = server_->Token(1);
  auto a = EnrollRaw(*server_, *token, Win7Inventory("a"), dir_.Sub("a"));
  ASSERT_TRUE(a.ok());
  auto as_operator = v1::OperatorService::NewStub(AgentChannel(*server_, a->identity));
  v1::ListEndpointsResponse list;
  grpc::ClientContext c1;
  EXPECT_EQ(as_operator->ListEndpoints(Ctx(&c1), v1::ListEndpointsRequest(), &list).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  TlsFiles admin{server_->ca_pem(), Slurp(server_->data_dir() + "/admin.pem"),
                 Slurp(server_->data_dir() + "/admin.key")};
  auto as_agent = v1::AgentService::NewStub(MakeTlsChannel(server_->address(), admin));
  v1::CheckInResponse resp;
  grpc::ClientContext c2;
  EXPECT_EQ(as_agent->CheckIn(Ctx(&c2), v1::CheckInRequest(), &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SecurityTest, OversizedAndMalformedRequestsAreRefused) {
  auto token = server_->Token(1);
  auto a = EnrollRaw(*server_, *token, Win7Inventory("a"), dir_.Sub("a"));
  ASSERT_TRUE(a.ok());
  v1::ReportResultRequest big;
  big.set_job_id("x");
  big.set_attempt(1);
  big.set_outcome(v1::STEP_OUTCOME_SUCCEEDED);
  big.set_output_tail(std::string(2 << 20, 'x'));
  v1::ReportResultResponse ack;
  grpc::ClientContext c1;
  EXPECT_EQ(a->stub->ReportResult(Ctx(&c1), big, &ack).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  big.set_output_tail(std::string(20 * 1024, 'x'));
  grpc::ClientContext c2;
  grpc::Status st = a->stub->ReportResult(Ctx(&c2), big, &ack);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("output_tail"), std::string::npos);
  v1::ReportResultRequest no_outcome;
  no_outcome.set_job_id("x");
  no_outcome.set_attempt(1);
  grpc::ClientContext c3;
  EXPECT_EQ(a->stub->ReportResult(Ctx(&c3), no_outcome, &ack).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::ReportResultRequest unknown_job = no_outcome;
  unknown_job.set_outcome(v1::STEP_OUTCOME_SUCCEEDED);
  grpc::ClientContext c4;
  EXPECT_EQ(a->stub->ReportResult(Ctx(&c4), unknown_job, &ack).error_code(),
            grpc::StatusCode::NOT_FOUND);

  auto missing = server_->Get("0000000000000000");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  auto bad_plan = server_->StartRun("no-such-plan", {a->identity.endpoint_id}, {});
  EXPECT_EQ(bad_plan.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(bad_plan.status().message().find("mde-downlevel-onboard"), std::string::npos);
  auto missing_param = server_->StartRun("mde-downlevel-onboard", {a->identity.endpoint_id}, {});
  EXPECT_EQ(missing_param.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing_param.status().message().find("workspace_id"), std::string::npos);
  auto missing_secret = server_->StartRun("mde-downlevel-onboard", {a->identity.endpoint_id},
                                          {{"workspace_id", "w"}, {"workspace_key", "nope"}});
  EXPECT_EQ(missing_secret.status().code(), absl::StatusCode::kFailedPrecondition);
}

// The server's name is its own: no operator certificate may carry it.
TEST_F(SecurityTest, NoCertificateIsIssuedInTheServersName) {
  std::string key = *GenerateKeyPem();
  v1::IssueOperatorCertificateRequest req;
  req.set_csr_pem(*MakeCsr(key, "x"));
  req.set_name(kServerName);
  req.set_role("admin");
  v1::IssuedCertificate cert;
  grpc::ClientContext ctx;
  grpc::Status st = server_->Admin()->IssueOperatorCertificate(Ctx(&ctx), req, &cert);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("name"), std::string::npos) << st.error_message();
}

// One endpoint's reports and inventory are bounded: it cannot make every
// operator's listing or the database grow without limit.
TEST_F(SecurityTest, ReportsAndInventoriesAreBounded) {
  auto token = server_->Token(1);
  auto a = EnrollRaw(*server_, *token, Win7Inventory("a"), dir_.Sub("a"));
  ASSERT_TRUE(a.ok());
  v1::CheckInRequest in;
  *in.mutable_inventory() = Win7Inventory("a");
  for (int i = 0; i < 5000; ++i)
    in.mutable_inventory()->add_installed_kbs("KB" + std::to_string(i));
  v1::CheckInResponse out;
  grpc::ClientContext c1;
  grpc::Status st = a->stub->CheckIn(Ctx(&c1), in, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("inventory.installed_kbs"), std::string::npos)
      << st.error_message();
  *in.mutable_inventory() = Win7Inventory(std::string(1000, 'h'));
  grpc::ClientContext c2;
  st = a->stub->CheckIn(Ctx(&c2), in, &out);
  EXPECT_NE(st.error_message().find("inventory.hostname"), std::string::npos) << st.error_message();

  auto run = server_->StartRun("lease-test", {a->identity.endpoint_id}, {});
  ASSERT_TRUE(run.ok());
  v1::WaitForWorkRequest wait;
  wait.set_wait_seconds(1);
  v1::WaitForWorkResponse work;
  grpc::ClientContext c3;
  ASSERT_TRUE(a->stub->WaitForWork(Ctx(&c3), wait, &work).ok());
  ASSERT_TRUE(work.has_job());
  v1::ReportResultRequest report;
  report.set_job_id(work.job().job_id());
  report.set_attempt(work.job().attempt());
  report.set_outcome(v1::STEP_OUTCOME_FAILED);
  report.set_message(std::string(100 * 1024, 'm'));
  v1::ReportResultResponse ack;
  grpc::ClientContext c4;
  st = a->stub->ReportResult(Ctx(&c4), report, &ack);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("message"), std::string::npos) << st.error_message();
  // An attempt that was never leased has no result to report.
  report.set_message("late");
  report.set_attempt(work.job().attempt() + 5);
  grpc::ClientContext c5;
  st = a->stub->ReportResult(Ctx(&c5), report, &ack);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("attempt"), std::string::npos) << st.error_message();
  auto history = server_->Admin();
  v1::GetEndpointHistoryRequest hreq;
  hreq.set_id(a->identity.endpoint_id);
  v1::EndpointHistory h;
  grpc::ClientContext c6;
  ASSERT_TRUE(history->GetEndpointHistory(Ctx(&c6), hreq, &h).ok());
  EXPECT_EQ(h.DebugString().find("late"), std::string::npos) << h.DebugString();
}

// A caller without a valid token gets no work done: not even its CSR parsed.
TEST_F(SecurityTest, TheTokenIsCheckedBeforeTheCsr) {
  auto channel = MakeTlsChannel(server_->address(), TlsFiles{server_->ca_pem(), "", ""});
  auto agent = v1::AgentService::NewStub(channel);
  v1::EnrollRequest req;
  req.set_token("0123456789abcdef.00000000000000000000000000000000");
  req.set_csr_pem("not a CSR");
  *req.mutable_inventory() = Win7Inventory("x");
  v1::EnrollResponse resp;
  grpc::ClientContext ctx;
  grpc::Status st = agent->Enroll(Ctx(&ctx), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
}

}  // namespace
}  // namespace purser::testing
