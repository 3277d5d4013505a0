#include "client/connection.h"

#include <gtest/gtest.h>

#include "shared/files.h"
#include "shared/x509.h"
#include "tests/test_util.h"

namespace purser::client {
namespace {

// A certificate paired with a key that is not its own (a crash mid-save, a
// copied file) is refused at load, naming both files.
TEST(Connection, AKeyThatIsNotTheCertificatesIsRefusedAtLoad) {
  testing::ScratchDir dir;
  std::string ca_key = *GenerateKeyPem();
  auto ca = MakeSelfSignedCa(ca_key, {"CA", "", 3600, true, {}, {}});
  std::string key = *GenerateKeyPem(), other = *GenerateKeyPem();
  auto cert =
      IssueCert(ca_key, ca->pem, *PublicKeyDerOfKey(key), {"e1", "agent", 600, false, {}, {}});
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("ca.pem"), ca->pem).ok());
  ASSERT_TRUE(SaveCertificate(dir.path(), key, cert->pem).ok());
  auto good = LoadIdentity(dir.path());
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->endpoint_id, "e1");
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("key.pem"), other, 0600).ok());
  auto bad = LoadIdentity(dir.path());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(bad.status().message().find("key.pem"), std::string::npos) << bad.status();
}

}  // namespace
}  // namespace purser::client
