#include "shared/x509.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace purser {
namespace {

struct Ca {
  std::string key;
  IssuedCert cert;
};

Ca MakeCa(const std::string& name) {
  Ca ca;
  ca.key = *GenerateKeyPem();
  ca.cert = *MakeSelfSignedCa(ca.key, {name, "", 3600, true, {}, {}});
  return ca;
}

TEST(X509, IssuesFromCsrWithRoleAndIdentity) {
  Ca ca = MakeCa("Test CA");
  std::string key = *GenerateKeyPem();
  auto csr = MakeCsr(key, "host-1");
  ASSERT_TRUE(csr.ok());
  auto pub = CsrPublicKeyDer(*csr);
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(*pub, *PublicKeyDerOfKey(key));
  auto cert = IssueCert(ca.key, ca.cert.pem, *pub, {"endpoint-abc", "agent", 600, false, {}, {}});
  ASSERT_TRUE(cert.ok());
  auto info = ParseCert(cert->pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->common_name, "endpoint-abc");
  EXPECT_EQ(info->organizational_unit, "agent");
  EXPECT_EQ(info->serial_hex, cert->serial_hex);
  EXPECT_NEAR(info->not_after_ms - info->not_before_ms, (600 + 300) * 1000, 2000);
  EXPECT_TRUE(VerifyCert(cert->pem, ca.cert.pem).ok());
  EXPECT_FALSE(VerifyCert(cert->pem, MakeCa("Other").cert.pem).ok());
}

// Only the server's certificate may serve TLS: a client certificate (agent,
// operator) presented as a server's must be refused by the peer.
TEST(X509, OnlyServerCertificatesAreFitForServerAuth) {
  Ca ca = MakeCa("Test CA");
  auto fit = [&](const std::string& ou, int purpose) {
    std::string pub = *PublicKeyDerOfKey(*GenerateKeyPem());
    auto cert = IssueCert(ca.key, ca.cert.pem, pub, {"purser-server", ou, 600, false, {}, {}});
    EXPECT_TRUE(cert.ok());
    BIO* bio = BIO_new_mem_buf(cert->pem.data(), static_cast<int>(cert->pem.size()));
    X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    bool ok = X509_check_purpose(x, purpose, 0) == 1;
    X509_free(x);
    return ok;
  };
  for (const char* client : {"agent", "admin", "operator", "viewer"}) {
    EXPECT_FALSE(fit(client, X509_PURPOSE_SSL_SERVER)) << client;
    EXPECT_TRUE(fit(client, X509_PURPOSE_SSL_CLIENT)) << client;
  }
  EXPECT_TRUE(fit("server", X509_PURPOSE_SSL_SERVER));
  EXPECT_FALSE(fit("server", X509_PURPOSE_SSL_CLIENT));
}

TEST(X509, RejectsBadCsrs) {
  EXPECT_EQ(CsrPublicKeyDer("garbage").status().code(), absl::StatusCode::kInvalidArgument);
  std::string csr = *MakeCsr(*GenerateKeyPem(), "x");
  // Flip a byte inside the base64 body: signature or structure breaks.
  csr[csr.size() / 2] = csr[csr.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(CsrPublicKeyDer(csr).ok());
}

TEST(X509, SerialsAreUnique) {
  Ca ca = MakeCa("CA");
  std::string pub = *PublicKeyDerOfKey(*GenerateKeyPem());
  auto a = IssueCert(ca.key, ca.cert.pem, pub, {"x", "agent", 60, false, {}, {}});
  auto b = IssueCert(ca.key, ca.cert.pem, pub, {"x", "agent", 60, false, {}, {}});
  EXPECT_NE(a->serial_hex, b->serial_hex);
}

// A certificate issued by an intermediate verifies under the root when its
// chain follows it, and not without; dates are checked at the time asked.
TEST(X509, VerifiesThroughTheChainThatFollowsTheCertificate) {
  Ca root = MakeCa("Root");
  std::string mid_key = *GenerateKeyPem();
  auto mid = IssueCert(root.key, root.cert.pem, *PublicKeyDerOfKey(mid_key),
                       {"Intermediate", "", 3600, true, {}, {}});
  ASSERT_TRUE(mid.ok());
  auto mid_info = ParseCert(mid->pem);
  EXPECT_TRUE(mid_info->is_ca);
  EXPECT_TRUE(mid_info->can_sign_certs);
  auto leaf = IssueCert(mid_key, mid->pem, *PublicKeyDerOfKey(*GenerateKeyPem()),
                        {"purser-server", "server", 600, false, {"a.example"}, {"10.0.0.1"}});
  ASSERT_TRUE(leaf.ok());
  auto leaf_info = ParseCert(leaf->pem);
  EXPECT_FALSE(leaf_info->is_ca);
  EXPECT_EQ(leaf_info->dns_names, std::vector<std::string>{"a.example"});
  EXPECT_EQ(leaf_info->ip_addresses, std::vector<std::string>{"10.0.0.1"});
  EXPECT_FALSE(VerifyCert(leaf->pem, root.cert.pem).ok());
  EXPECT_TRUE(VerifyCert(leaf->pem + mid->pem, root.cert.pem).ok());
  EXPECT_TRUE(VerifyCert(leaf->pem, mid->pem + root.cert.pem).ok());
  EXPECT_TRUE(VerifyIssuedBy(leaf->pem, mid->pem).ok());
  EXPECT_FALSE(VerifyIssuedBy(leaf->pem, root.cert.pem).ok());
  EXPECT_EQ(SplitCerts(leaf->pem + mid->pem)->size(), 2u);
  // An hour and a half from now both have expired; dates aside, the chain holds.
  int64_t later = leaf_info->not_before_ms + 300'000 + 5400'000;
  EXPECT_FALSE(VerifyCert(leaf->pem + mid->pem, root.cert.pem, later).ok());
  EXPECT_TRUE(VerifyCert(leaf->pem + mid->pem, root.cert.pem, kAnyTime).ok());
  EXPECT_TRUE(CheckKeyMatchesCert(mid_key, mid->pem).ok());
  EXPECT_FALSE(CheckKeyMatchesCert(root.key, mid->pem).ok());
}

}  // namespace
}  // namespace purser
