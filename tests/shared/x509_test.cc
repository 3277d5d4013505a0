#include "shared/x509.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace purser
