// Operators and scripts: every (role, method) pair, revocation of operators
// and agents (open streams included), re-enrollment, cloned identities, the
// audit log, and the Python example against a live server.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>
#include <thread>

#include "grpcpp/client_context.h"
#include "shared/files.h"
#include "shared/grpc_options.h"
#include "shared/x509.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

using Stub = v1::OperatorService::Stub;

class OperatorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path(),
                                           std::vector<std::string>{"--campaign_tick_ms=100"});
    ASSERT_TRUE(server_->Start().ok());
  }

  // An operator identity with `role`, issued through the API like purserctl does.
  struct Person {
    std::unique_ptr<Stub> stub;
    std::string serial;
  };
  Person Issue(const std::string& name, const std::string& role) {
    std::string key = *GenerateKeyPem();
    v1::IssueOperatorCertificateRequest req;
    req.set_name(name);
    req.set_role(role);
    req.set_csr_pem(*MakeCsr(key, name));
    v1::IssuedCertificate cert;
    grpc::ClientContext ctx;
    EXPECT_TRUE(server_->Admin()->IssueOperatorCertificate(&ctx, req, &cert).ok());
    WriteFileAtomic(dir_.Sub(name + ".key"), key, 0600).IgnoreError();
    WriteFileAtomic(dir_.Sub(name + ".pem"), cert.certificate_pem(), 0600).IgnoreError();
    Person p;
    p.serial = cert.serial();
    p.stub = v1::OperatorService::NewStub(
        MakeTlsChannel(server_->address(), {server_->ca_pem(), cert.certificate_pem(), key}));
    return p;
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

template <typename Req, typename Resp>
std::function<grpc::Status(Stub*)> Unary(grpc::Status (Stub::*m)(grpc::ClientContext*, const Req&,
                                                                 Resp*),
                                         Req req = Req()) {
  return [m, req](Stub* s) {
    Resp resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return (s->*m)(&ctx, req, &resp);
  };
}

TEST_F(OperatorsTest, EveryRoleMethodPairIsAllowedOrRefusedAsSpecified) {
  v1::GetEndpointRequest some_endpoint;
  some_endpoint.set_id("0123456789abcdef0123456789abcdef");
  v1::GetEndpointHistoryRequest some_history;
  some_history.set_id(some_endpoint.id());
  v1::StartRunRequest run;
  run.set_plan_name("campaign-test");
  run.set_all_endpoints(true);
  v1::PutSecretRequest secret;
  secret.set_name("k");
  secret.set_value("role-test-secret");
  v1::AllowRebootRequest reboot;
  reboot.add_endpoint_ids("x");
  v1::CreateCampaignRequest campaign;
  campaign.set_name("roles");
  campaign.set_plan_name("campaign-test");
  campaign.mutable_target()->set_dynamic(true);
  v1::ActOnCampaignRequest act;
  act.set_id("c-none");
  act.set_action(v1::ActOnCampaignRequest::ACTION_PAUSE);
  v1::IssueOperatorCertificateRequest issue;
  issue.set_name("x");
  issue.set_role("viewer");
  issue.set_csr_pem(*MakeCsr(*GenerateKeyPem(), "x"));
  v1::RenewOperatorCertificateRequest renew;
  renew.set_csr_pem(*MakeCsr(*GenerateKeyPem(), "x"));
  v1::RevokeCertificateRequest revoke;
  revoke.set_serial("00");
  struct Row {
    const char* method;
    const char* least;  // the least role allowed
    std::function<grpc::Status(Stub*)> call;
  };
  std::vector<Row> table = {
      {"CreateEnrollmentToken", "admin", Unary(&Stub::CreateEnrollmentToken)},
      {"PutSecret", "admin", Unary(&Stub::PutSecret, secret)},
      {"RotateSecretsKey", "admin", Unary(&Stub::RotateSecretsKey)},
      {"UploadPlan", "admin", Unary(&Stub::UploadPlan, v1::UploadPlanRequest())},
      {"IssueOperatorCertificate", "admin", Unary(&Stub::IssueOperatorCertificate, issue)},
      {"ListCertificates", "admin", Unary(&Stub::ListCertificates)},
      {"RevokeCertificate", "admin", Unary(&Stub::RevokeCertificate, revoke)},
      {"ListAudit", "admin", Unary(&Stub::ListAudit)},
      {"StartRun", "operator", Unary(&Stub::StartRun, run)},
      {"AllowReboot", "operator", Unary(&Stub::AllowReboot, reboot)},
      {"CreateCampaign", "operator", Unary(&Stub::CreateCampaign, campaign)},
      {"SetLabels", "operator", Unary(&Stub::SetLabels, v1::SetLabelsRequest())},
      {"ActOnCampaign", "operator", Unary(&Stub::ActOnCampaign, act)},
      {"ListEndpoints", "viewer", Unary(&Stub::ListEndpoints)},
      {"CountEndpoints", "viewer", Unary(&Stub::CountEndpoints)},
      {"GetServerStats", "viewer", Unary(&Stub::GetServerStats)},
      {"GetEndpoint", "viewer", Unary(&Stub::GetEndpoint, some_endpoint)},
      {"GetEndpointHistory", "viewer", Unary(&Stub::GetEndpointHistory, some_history)},
      {"ListPlans", "viewer", Unary(&Stub::ListPlans)},
      {"ListArtifacts", "viewer", Unary(&Stub::ListArtifacts)},
      {"ListCampaigns", "viewer", Unary(&Stub::ListCampaigns)},
      {"GetCampaign", "viewer", Unary(&Stub::GetCampaign, v1::GetCampaignRequest())},
      {"RenewOperatorCertificate", "viewer", Unary(&Stub::RenewOperatorCertificate, renew)},
  };
  std::map<std::string, Person> people;
  people["viewer"] = Issue("vera", "viewer");
  people["operator"] = Issue("otto", "operator");
  people["admin"] = Issue("ada", "admin");
  auto rank = [](const std::string& r) { return r == "admin" ? 3 : r == "operator" ? 2 : 1; };
  for (const auto& row : table) {
    for (auto& [role, person] : people) {
      grpc::Status st = row.call(person.stub.get());
      bool refused = st.error_code() == grpc::StatusCode::PERMISSION_DENIED;
      EXPECT_EQ(refused, rank(role) < rank(row.least))
          << role << " calling " << row.method << ": " << st.error_code() << " "
          << st.error_message();
    }
    // Agents never act as operators.
    auto token = server_->Token(1);
    auto agent = EnrollRaw(*server_, *token, Win7Inventory("agent"),
                           dir_.Sub(std::string("ag-") + row.method));
    ASSERT_TRUE(agent.ok());
    auto as_operator = v1::OperatorService::NewStub(AgentChannel(*server_, agent->identity));
    EXPECT_EQ(row.call(as_operator.get()).error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << row.method;
  }
}

TEST_F(OperatorsTest, RevocationRefusesTheNextCallAndClosesOpenStreams) {
  Person vera = Issue("vera", "viewer");
  ASSERT_TRUE(Unary(&Stub::ListEndpoints)(vera.stub.get()).ok());
  v1::CreateCampaignRequest req;
  req.set_name("forever");
  req.set_plan_name("campaign-test");
  req.mutable_target()->set_dynamic(true);
  v1::Campaign c;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(server_->Admin()->CreateCampaign(&ctx, req, &c).ok());
  }
  grpc::ClientContext watch_ctx;
  v1::GetCampaignRequest watch_req;
  watch_req.set_id(c.id());
  auto reader = vera.stub->WatchCampaign(&watch_ctx, watch_req);
  v1::Campaign first;
  ASSERT_TRUE(reader->Read(&first));
  std::atomic<bool> ended{false};
  grpc::Status stream_status;
  std::thread t([&] {
    v1::Campaign more;
    while (reader->Read(&more)) {
    }
    stream_status = reader->Finish();
    ended = true;
  });
  v1::RevokeCertificateRequest rev;
  rev.set_serial(vera.serial);
  v1::CertificateInfo info;
  grpc::ClientContext ctx;
  ASSERT_TRUE(server_->Admin()->RevokeCertificate(&ctx, rev, &info).ok());
  EXPECT_GT(info.revoked_unix_ms(), 0);
  EXPECT_EQ(Unary(&Stub::ListEndpoints)(vera.stub.get()).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(WaitUntil([&] { return ended.load(); }, absl::Seconds(5)));
  t.join();
  EXPECT_EQ(stream_status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(OperatorsTest, RevokedAgentIsRefusedAndReenrollsOnlyWhenReadmitted) {
  auto token_file = server_->TokenFile(1);
  auto agent = StartAgent(*server_, dir_.Sub("a"), *token_file, "win81-x64-ent");
  ASSERT_TRUE(agent.ok());
  std::string id, serial;
  ASSERT_TRUE(WaitUntil([&] {
    auto l = server_->List();
    if (!l.ok() || l->empty()) return false;
    id = l->front().id();
    serial = l->front().cert_serial();
    return true;
  }));
  absl::SleepFor(absl::Milliseconds(500));  // the agent is parked in its long poll
  v1::RevokeCertificateRequest rev;
  rev.set_serial(serial);
  v1::CertificateInfo info;
  grpc::ClientContext ctx;
  ASSERT_TRUE(server_->Admin()->RevokeCertificate(&ctx, rev, &info).ok());
  EXPECT_EQ((*agent)->Wait(absl::Seconds(10)), 1) << "the agent's open poll was not closed";
  EXPECT_NE((*agent)->Log().find("revoked"), std::string::npos) << (*agent)->Log();
  EXPECT_EQ(server_->Get(id)->endpoint().state(), v1::ENDPOINT_STATE_REVOKED);
  // Neither the used-up token nor a new one brings it back; one that
  // readmits it does, keeping its identity.
  auto old_token =
      StartAgent(*server_, dir_.Sub("a"), *token_file, "win81-x64-ent", {"--reenroll"});
  EXPECT_NE((*old_token)->Wait(absl::Seconds(10)), 0);
  auto other = server_->TokenFile(1);
  auto refused = StartAgent(*server_, dir_.Sub("a"), *other, "win81-x64-ent", {"--reenroll"});
  EXPECT_NE((*refused)->Wait(absl::Seconds(10)), 0);
  EXPECT_NE((*refused)->Log().find("revoked"), std::string::npos) << (*refused)->Log();
  auto fresh = server_->TokenFile(1, {id});
  auto again = StartAgent(*server_, dir_.Sub("a"), *fresh, "win81-x64-ent", {"--reenroll"});
  ASSERT_TRUE(WaitUntil([&] {
    auto e = server_->Get(id);
    return e.ok() && e->endpoint().state() == v1::ENDPOINT_STATE_ENROLLED &&
           e->endpoint().cert_serial() != serial;
  })) << (*again)->Log();
  EXPECT_EQ(server_->List()->size(), 1u);
}

TEST_F(OperatorsTest, ClonedIdentitiesAreShownNotMerged) {
  auto token = server_->Token(1);
  auto a = EnrollRaw(*server_, *token, Win7Inventory("pc-1"), dir_.Sub("a"));
  ASSERT_TRUE(a.ok());
  auto check_in = [&](const std::string& host) {
    v1::CheckInRequest req;
    *req.mutable_inventory() = Win7Inventory(host);
    req.mutable_inventory()->set_agent_nonce(a->identity.nonce + "/" + host);
    v1::CheckInResponse resp;
    grpc::ClientContext ctx;
    return a->stub->CheckIn(&ctx, req, &resp);
  };
  ASSERT_TRUE(check_in("pc-1").ok());
  ASSERT_TRUE(check_in("pc-1").ok());
  EXPECT_FALSE(server_->Get(a->identity.endpoint_id)->endpoint().clone_suspected());
  // The same certificate and nonce, from a machine cloned and renamed.
  ASSERT_TRUE(check_in("pc-1-clone").ok());
  EXPECT_TRUE(server_->Get(a->identity.endpoint_id)->endpoint().clone_suspected());
  std::string out;
  ASSERT_EQ(RunCtl(*server_, "endpoints history " + a->identity.endpoint_id, &out), 0) << out;
  EXPECT_NE(out.find("cloned identity suspected"), std::string::npos) << out;
  ASSERT_EQ(RunCtl(*server_, "endpoints list", &out), 0);
  EXPECT_NE(out.find("CLONED IDENTITY?"), std::string::npos) << out;
}

TEST_F(OperatorsTest, AuditRecordsEveryChangeWithoutSecrets) {
  Person vera = Issue("vera", "viewer");
  const std::string secret = "audit-test-secret-5e8d";
  v1::PutSecretRequest put;
  put.set_name("mde-key");
  put.set_value(secret);
  ASSERT_TRUE(Unary(&Stub::PutSecret, put)(server_->Admin().get()).ok());
  ASSERT_TRUE(server_->Token(3).ok());
  EXPECT_EQ(Unary(&Stub::CreateEnrollmentToken)(vera.stub.get()).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::StartRunRequest bad;
  bad.set_plan_name("no-such-plan");
  bad.set_all_endpoints(true);
  EXPECT_EQ(Unary(&Stub::StartRun, bad)(server_->Admin().get()).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Unary(&Stub::ListEndpoints)(vera.stub.get()).ok());  // reads are not audited

  std::string out;
  ASSERT_EQ(RunCtl(*server_, "audit -o json", &out), 0) << out;
  EXPECT_EQ(out.find(secret), std::string::npos);
  v1::ListAuditResponse log;
  v1::ListAuditRequest all;
  grpc::ClientContext ctx;
  ASSERT_TRUE(server_->Admin()->ListAudit(&ctx, all, &log).ok());
  std::map<std::string, const v1::AuditEntry*> by_method;
  for (const auto& e : log.entries()) by_method[e.method() + "/" + e.who()] = &e;
  ASSERT_TRUE(by_method.count("PutSecret/admin"));
  EXPECT_NE(by_method["PutSecret/admin"]->request_json().find("[REDACTED]"), std::string::npos);
  ASSERT_TRUE(by_method.count("CreateEnrollmentToken/vera"));
  EXPECT_EQ(by_method["CreateEnrollmentToken/vera"]->result_code(), 7);  // PERMISSION_DENIED
  ASSERT_TRUE(by_method.count("StartRun/admin"));
  EXPECT_EQ(by_method["StartRun/admin"]->result_code(), 5);  // NOT_FOUND
  EXPECT_EQ(by_method.count("ListEndpoints/vera"), 0u);
  for (const auto& e : log.entries()) EXPECT_EQ(e.request_json().find(secret), std::string::npos);
}

// A refusal names who was refused, from the certificate, even a revoked one;
// refused reads are recorded too.
TEST_F(OperatorsTest, RefusalsAreAuditedUnderTheCallersName) {
  Person vera = Issue("vera", "viewer");
  EXPECT_EQ(Unary(&Stub::ListAudit)(vera.stub.get()).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::RevokeCertificateRequest rev;
  rev.set_serial(vera.serial);
  ASSERT_TRUE(Unary(&Stub::RevokeCertificate, rev)(server_->Admin().get()).ok());
  EXPECT_EQ(Unary(&Stub::ListEndpoints)(vera.stub.get()).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  std::string out;
  ASSERT_EQ(RunCtl(*server_, "audit --who vera -o json", &out), 0) << out;
  v1::ListAuditRequest req;
  req.set_who("vera");
  v1::ListAuditResponse log;
  grpc::ClientContext ctx;
  ASSERT_TRUE(server_->Admin()->ListAudit(&ctx, req, &log).ok());
  std::set<std::string> refused;
  for (const auto& e : log.entries()) {
    EXPECT_EQ(e.role(), "viewer");
    EXPECT_EQ(e.cert_serial(), vera.serial);
    if (e.result_code() == 7) refused.insert(e.method());
  }
  EXPECT_TRUE(refused.count("ListAudit")) << log.DebugString();
  EXPECT_TRUE(refused.count("ListEndpoints")) << log.DebugString();
}

TEST_F(OperatorsTest, ViewerScriptReadsCampaignStatusButCannotChangeIt) {
  auto token = server_->TokenFile(3);
  std::vector<std::unique_ptr<Process>> agents;
  for (const char* p : {"win7-sp1-x64-ent", "win81-x64-ent", "win2008r2-sp1-x64"}) {
    agents.push_back(std::move(*StartAgent(*server_, dir_.Sub(p), *token, p)));
  }
  ASSERT_TRUE(WaitUntil([&] {
    auto l = server_->List();
    return l.ok() && l->size() == 3;
  }));
  std::string out;
  ASSERT_EQ(RunCtl(*server_, "campaign create check --plan campaign-test -o json", &out), 0) << out;
  size_t at = out.find("\"c-") + 1;
  std::string id = out.substr(at, out.find('"', at) - at);
  ASSERT_EQ(RunCtl(*server_, "campaign watch " + id, &out), 0) << out;
  // The admin makes a viewer certificate for the script, as the README shows.
  ASSERT_EQ(
      RunCtl(*server_, "cert issue status-script --role viewer --out " + dir_.Sub("script"), &out),
      0)
      << out;
  std::string cmd =
      "PYTHONPATH=" + std::string(PURSER_PYTHON_DIR) + " /usr/bin/python3 " + PURSER_EXAMPLES_DIR +
      "/python/failed_endpoints.py --server " + server_->address() + " --ca " + server_->ca_path() +
      " --cert " + dir_.Sub("script.pem") + " --key " + dir_.Sub("script.key") + " " + id + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string py;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) py.append(buf, n);
  EXPECT_EQ(WEXITSTATUS(::pclose(p)), 0) << py;
  EXPECT_NE(py.find("1 failed of 3"), std::string::npos) << py;
  EXPECT_NE(py.find("win2008r2-sp1-x64"), std::string::npos) << py;
  EXPECT_NE(py.find("windefend"), std::string::npos) << py;
  // With the same certificate, changes are refused (exit code 4).
  std::string viewer = " --cert " + dir_.Sub("script.pem") + " --key " + dir_.Sub("script.key");
  std::string base = std::string(PURSER_CTL_BIN) + " --server=" + server_->address() +
                     " --ca=" + server_->ca_path() + viewer;
  EXPECT_EQ(WEXITSTATUS(std::system((base + " campaign retry " + id + " >/dev/null 2>&1").c_str())),
            4);
  EXPECT_EQ(WEXITSTATUS(std::system((base + " campaign get " + id + " >/dev/null 2>&1").c_str())),
            0);
}

// Lists that grow with the fleet come in pages that follow each other with
// nothing lost or repeated.
TEST_F(OperatorsTest, LongListsComeInPages) {
  for (int i = 0; i < 4; ++i) Issue("person-" + std::to_string(i), "viewer");
  std::vector<std::string> all_serials;
  {
    v1::ListCertificatesResponse all;
    grpc::ClientContext ctx;
    ASSERT_TRUE(server_->Admin()->ListCertificates(&ctx, v1::ListCertificatesRequest(), &all).ok());
    for (const auto& c : all.certificates()) all_serials.push_back(c.serial());
  }
  ASSERT_GE(all_serials.size(), 5u);
  std::vector<std::string> paged;
  v1::ListCertificatesRequest req;
  req.set_page_size(2);
  for (int pages = 0; pages < 10; ++pages) {
    v1::ListCertificatesResponse page;
    grpc::ClientContext ctx;
    ASSERT_TRUE(server_->Admin()->ListCertificates(&ctx, req, &page).ok());
    EXPECT_LE(page.certificates_size(), 2);
    for (const auto& c : page.certificates()) paged.push_back(c.serial());
    if (page.next_page_token().empty()) break;
    req.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(paged, all_serials);

  v1::CreateCampaignRequest create;
  create.set_name("paged");
  create.set_plan_name("campaign-test");
  for (int i = 0; i < 7; ++i)
    create.mutable_target()->add_endpoint_ids("not-enrolled-" + std::to_string(i));
  v1::Campaign c;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(server_->Admin()->CreateCampaign(&ctx, create, &c).ok());
  }
  std::vector<std::string> members;
  v1::GetCampaignRequest get;
  get.set_id(c.id());
  get.set_page_size(3);
  for (int pages = 0; pages < 10; ++pages) {
    v1::GetCampaignResponse page;
    grpc::ClientContext ctx;
    ASSERT_TRUE(server_->Admin()->GetCampaign(&ctx, get, &page).ok());
    EXPECT_LE(page.members_size(), 3);
    EXPECT_EQ(page.campaign().counters().members(), 7);
    for (const auto& m : page.members()) members.push_back(m.endpoint_id());
    if (page.next_page_token().empty()) break;
    get.set_page_token(page.next_page_token());
  }
  ASSERT_EQ(members.size(), 7u);
  EXPECT_TRUE(std::is_sorted(members.begin(), members.end()));

  auto token = server_->Token(1);
  auto agent = EnrollRaw(*server_, *token, Win7Inventory("h"), dir_.Sub("h"));
  ASSERT_TRUE(agent.ok());
  ASSERT_TRUE(server_->StartRun("lease-test", {agent->identity.endpoint_id}, {}).ok());
  v1::GetEndpointHistoryRequest hreq;
  hreq.set_id(agent->identity.endpoint_id);
  v1::EndpointHistory whole;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(server_->Admin()->GetEndpointHistory(&ctx, hreq, &whole).ok());
  }
  ASSERT_GE(whole.entries_size(), 2);
  hreq.set_page_size(1);
  int seen = 0;
  for (int pages = 0; pages < 20; ++pages) {
    v1::EndpointHistory page;
    grpc::ClientContext ctx;
    ASSERT_TRUE(server_->Admin()->GetEndpointHistory(&ctx, hreq, &page).ok());
    seen += page.entries_size();
    if (page.next_before_unix_ms() == 0) break;
    hreq.set_before_unix_ms(page.next_before_unix_ms());
  }
  EXPECT_EQ(seen, whole.entries_size());
}

}  // namespace
}  // namespace purser::testing
