// Revocation and expiry hold however the peer tries to go on: a revoked key
// cannot enroll itself back, a renewed certificate falls with its endpoint,
// an open connection or stream ends with its certificate.
#include <gtest/gtest.h>

#include "grpcpp/client_context.h"
#include "shared/x509.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

grpc::ClientContext* Ctx(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

grpc::Status CheckIn(v1::AgentService::Stub* stub) {
  v1::CheckInRequest req;
  *req.mutable_inventory() = Win7Inventory("pc");
  v1::CheckInResponse resp;
  grpc::ClientContext ctx;
  return stub->CheckIn(Ctx(&ctx), req, &resp);
}

grpc::Status Revoke(const TestServer& server, const std::string& serial) {
  v1::RevokeCertificateRequest req;
  req.set_serial(serial);
  v1::CertificateInfo info;
  grpc::ClientContext ctx;
  return server.Admin()->RevokeCertificate(Ctx(&ctx), req, &info);
}

std::string Serial(const std::string& pem) { return ParseCert(pem)->serial_hex; }

class RevocationTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> flags = {}) {
    server_ = std::make_unique<TestServer>(dir_.path(), std::move(flags));
    ASSERT_TRUE(server_->Start().ok());
  }
  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

// Agents keep their token file; a token with uses left must not undo a revocation.
TEST_F(RevocationTest, ARevokedKeyReenrollsOnlyWithATokenThatReadmitsIt) {
  Start();
  auto token = server_->Token(5);
  auto a = EnrollRaw(*server_, *token, Win7Inventory("pc"), dir_.Sub("a"));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(Revoke(*server_, Serial(a->identity.cert_pem)).ok());
  auto same_token = EnrollIdentity(*server_, *token, Win7Inventory("pc"), dir_.Sub("a"));
  EXPECT_EQ(same_token.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(same_token.status().message().find("revoked"), std::string::npos)
      << same_token.status();
  auto fresh = server_->Token(1);
  auto fresh_token = EnrollIdentity(*server_, *fresh, Win7Inventory("pc"), dir_.Sub("a"));
  EXPECT_EQ(fresh_token.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(server_->Get(a->identity.endpoint_id)->endpoint().state(), v1::ENDPOINT_STATE_REVOKED);

  auto readmit = server_->Token(1, 3600, {a->identity.endpoint_id});
  auto back = EnrollIdentity(*server_, *readmit, Win7Inventory("pc"), dir_.Sub("a"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->endpoint_id, a->identity.endpoint_id);
  EXPECT_EQ(server_->Get(a->identity.endpoint_id)->endpoint().state(), v1::ENDPOINT_STATE_ENROLLED);
}

// Work in flight at the revocation (a leased step that then expires) must not
// move the endpoint out of REVOKED: that would let its key enroll again.
TEST_F(RevocationTest, WorkInFlightCannotUndoARevocation) {
  Start({"--lease_grace_ms=300"});
  auto token = server_->Token(5);
  auto a = EnrollRaw(*server_, *token, Win7Inventory("pc"), dir_.Sub("a"));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(server_->StartRun("lease-test", {a->identity.endpoint_id}, {}).ok());
  v1::WaitForWorkRequest wait;
  wait.set_wait_seconds(1);
  v1::WaitForWorkResponse work;
  grpc::ClientContext ctx;
  ASSERT_TRUE(a->stub->WaitForWork(Ctx(&ctx), wait, &work).ok());
  ASSERT_TRUE(work.has_job());
  ASSERT_TRUE(Revoke(*server_, Serial(a->identity.cert_pem)).ok());
  absl::SleepFor(absl::Seconds(4));  // the lease (1 s + 0.3 s) would have expired and retried
  auto e = server_->Get(a->identity.endpoint_id);
  EXPECT_EQ(e->endpoint().state(), v1::ENDPOINT_STATE_REVOKED) << e->endpoint().DebugString();
  for (const auto& j : e->jobs()) EXPECT_EQ(j.state(), v1::JOB_STATE_CANCELLED) << j.DebugString();
  auto again = EnrollIdentity(*server_, *token, Win7Inventory("pc"), dir_.Sub("a"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kPermissionDenied) << again.status();
}

// A certificate renewed before the revocation is the same endpoint's: it
// falls with it, whichever of the two serials the admin revokes.
TEST_F(RevocationTest, RenewedCertificatesFallWithTheEndpoint) {
  Start();
  for (bool revoke_old : {true, false}) {
    auto token = server_->Token(1);
    std::string name = revoke_old ? "old" : "new";
    auto a = EnrollRaw(*server_, *token, Win7Inventory(name), dir_.Sub(name));
    ASSERT_TRUE(a.ok());
    v1::RenewCertificateRequest req;
    req.set_csr_pem(*MakeCsr(a->identity.key_pem, a->identity.endpoint_id));
    v1::RenewCertificateResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(a->stub->RenewCertificate(Ctx(&ctx), req, &resp).ok());
    AgentIdentity renewed = a->identity;
    renewed.cert_pem = resp.certificate_pem();
    auto renewed_stub = v1::AgentService::NewStub(AgentChannel(*server_, renewed));
    ASSERT_TRUE(CheckIn(renewed_stub.get()).ok());
    std::string old_serial = Serial(a->identity.cert_pem), new_serial = Serial(renewed.cert_pem);
    ASSERT_NE(old_serial, new_serial);
    ASSERT_TRUE(Revoke(*server_, revoke_old ? old_serial : new_serial).ok());
    EXPECT_EQ(CheckIn(renewed_stub.get()).error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << name;
    EXPECT_EQ(CheckIn(a->stub.get()).error_code(), grpc::StatusCode::PERMISSION_DENIED) << name;
    EXPECT_EQ(server_->Get(a->identity.endpoint_id)->endpoint().state(),
              v1::ENDPOINT_STATE_REVOKED);
    v1::ListCertificatesResponse certs;
    grpc::ClientContext lctx;
    ASSERT_TRUE(
        server_->Admin()->ListCertificates(Ctx(&lctx), v1::ListCertificatesRequest(), &certs).ok());
    for (const auto& c : certs.certificates()) {
      if (c.subject() == a->identity.endpoint_id) {
        EXPECT_GT(c.revoked_unix_ms(), 0) << c.serial();
      }
    }
  }
}

// TLS checks a certificate's dates when the connection is made; the
// connection must not outlive them.
TEST_F(RevocationTest, AnExpiredCertificateIsRefusedOnAnOpenConnection) {
  Start({"--agent_cert_seconds=3"});
  auto token = server_->Token(1);
  auto a = EnrollRaw(*server_, *token, Win7Inventory("pc"), dir_.Sub("a"));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(CheckIn(a->stub.get()).ok());
  absl::SleepFor(absl::Seconds(4));
  grpc::Status st = CheckIn(a->stub.get());  // same channel, same connection
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  EXPECT_NE(st.error_message().find("expired"), std::string::npos) << st.error_message();
}

// A download in progress stops at its next chunk once the certificate is revoked.
TEST_F(RevocationTest, RevocationEndsAnOpenDownload) {
  Start();
  std::string data(16 << 20, 'x');
  auto info = server_->Upload("big.msu", data);
  ASSERT_TRUE(info.ok()) << info.status();
  auto token = server_->Token(1);
  auto a = EnrollRaw(*server_, *token, Win7Inventory("pc"), dir_.Sub("a"));
  ASSERT_TRUE(a.ok());
  v1::DownloadArtifactRequest req;
  req.set_sha256(info->sha256());
  grpc::ClientContext ctx;
  auto reader = a->stub->DownloadArtifact(&ctx, req);
  v1::ArtifactChunk chunk;
  ASSERT_TRUE(reader->Read(&chunk));
  ASSERT_TRUE(Revoke(*server_, Serial(a->identity.cert_pem)).ok());
  int64_t received = static_cast<int64_t>(chunk.data().size());
  while (reader->Read(&chunk)) received += static_cast<int64_t>(chunk.data().size());
  grpc::Status st = reader->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_LT(received, static_cast<int64_t>(data.size()));
}

}  // namespace
}  // namespace purser::testing
