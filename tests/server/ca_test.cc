#include "server/ca.h"

#include <gtest/gtest.h>

#include "shared/x509.h"

namespace purser::server {
namespace {

TEST(CertificateAuthority, AgentCertificateNamesTheEndpointOfItsKey) {
  std::string ca_key = *GenerateKeyPem();
  auto ca_cert = MakeSelfSignedCa(ca_key, {"CA", "", 3600, true, {}, {}});
  CertificateAuthority ca(ca_cert->pem, ca_key);
  std::string key = *GenerateKeyPem();
  std::string id = EndpointIdForKey(*PublicKeyDerOfKey(key));
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(id, EndpointIdForKey(*PublicKeyDerOfKey(key)));
  auto cert = ca.IssueAgent(*MakeCsr(key, "ignored-cn"), id, 600);
  ASSERT_TRUE(cert.ok());
  auto info = ParseCert(cert->pem);
  EXPECT_EQ(info->common_name, id);  // the CSR's own CN is not trusted
  EXPECT_EQ(info->organizational_unit, "agent");
  EXPECT_FALSE(ca.IssueAgent("not a csr", id, 600).ok());
}

}  // namespace
}  // namespace purser::server
