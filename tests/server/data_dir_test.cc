#include "server/data_dir.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "shared/files.h"
#include "shared/x509.h"
#include "tests/test_util.h"

namespace purser::server {
namespace {

TEST(DataDir, InitialisesOnceThenReopens) {
  testing::ScratchDir dir;
  auto first = OpenOrInitDataDir(dir.Sub("data"), {"purser.example.org", "10.1.2.3"});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->secrets_key.size(), 32u);
  EXPECT_TRUE(VerifyCert(first->server_cert_pem, first->ca_cert_pem).ok());
  EXPECT_TRUE(VerifyCert(*ReadFile(dir.Sub("data/admin.pem")), first->ca_cert_pem).ok());
  EXPECT_EQ(ParseCert(*ReadFile(dir.Sub("data/admin.pem")))->organizational_unit, "admin");
  // The database is created by the store on first start; simulate that.
  ASSERT_TRUE(WriteFileAtomic(first->db_path, "").ok());
  auto second = OpenOrInitDataDir(dir.Sub("data"), {});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->ca_cert_pem, first->ca_cert_pem);
}

TEST(DataDir, DamageIsNamed) {
  testing::ScratchDir dir;
  auto first = OpenOrInitDataDir(dir.path() + "/d", {});
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(WriteFileAtomic(first->db_path, "").ok());
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/d/secrets.key", "short", 0600).ok());
  auto st = OpenOrInitDataDir(dir.path() + "/d", {});
  EXPECT_NE(st.status().message().find("secrets.key"), std::string::npos) << st.status();
  ::unlink((dir.path() + "/d/server.pem").c_str());
  st = OpenOrInitDataDir(dir.path() + "/d", {});
  EXPECT_EQ(st.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.status().message().find("server.pem"), std::string::npos) << st.status();
}

}  // namespace
}  // namespace purser::server
