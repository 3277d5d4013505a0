#include "server/data_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/time/clock.h"
#include "shared/files.h"
#include "shared/x509.h"
#include "tests/test_util.h"

namespace purser::server {
namespace {

TEST(DataDir, InitialisesOnceThenReopens) {
  testing::ScratchDir dir;
  auto first = OpenOrInitDataDir(dir.Sub("data"),
                                 std::vector<std::string>{"purser.example.org", "10.1.2.3"});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->secrets_key.size(), 32u);
  EXPECT_TRUE(VerifyCert(first->server_cert_pem, first->ca_cert_pem).ok());
  EXPECT_TRUE(VerifyCert(*ReadFile(dir.Sub("data/admin.pem")), first->ca_cert_pem).ok());
  EXPECT_EQ(ParseCert(*ReadFile(dir.Sub("data/admin.pem")))->organizational_unit, "admin");
  // The database is created by the store on first start; simulate that.
  ASSERT_TRUE(WriteFileAtomic(first->db_path, "").ok());
  auto second = OpenOrInitDataDir(dir.Sub("data"), DataDirOptions());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->ca_cert_pem, first->ca_cert_pem);
}

TEST(DataDir, DamageIsNamed) {
  testing::ScratchDir dir;
  auto first = OpenOrInitDataDir(dir.path() + "/d", DataDirOptions());
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(WriteFileAtomic(first->db_path, "").ok());
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/d/secrets.key", "short", 0600).ok());
  auto st = OpenOrInitDataDir(dir.path() + "/d", DataDirOptions());
  EXPECT_NE(st.status().message().find("secrets.key"), std::string::npos) << st.status();
  ::unlink((dir.path() + "/d/server.pem").c_str());
  st = OpenOrInitDataDir(dir.path() + "/d", DataDirOptions());
  EXPECT_EQ(st.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.status().message().find("server.pem"), std::string::npos) << st.status();
}

// An offline root and its intermediate, made with the project's own helpers
// (the integration test makes them with openssl).
struct OfflineCa {
  std::string root_key, root_pem, mid_key, mid_pem;
};

OfflineCa MakeOfflineCa(int64_t mid_seconds = 3600 * 24 * 365 * 3, int64_t mid_now_ms = 0) {
  OfflineCa ca;
  ca.root_key = *GenerateKeyPem();
  ca.root_pem = MakeSelfSignedCa(ca.root_key, {"Root", "", 3600LL * 24 * 3650, true, {}, {}})->pem;
  ca.mid_key = *GenerateKeyPem();
  CertSpec mid{"Intermediate", "", mid_seconds, true, {}, {}, mid_now_ms};
  ca.mid_pem = IssueCert(ca.root_key, ca.root_pem, *PublicKeyDerOfKey(ca.mid_key), mid)->pem;
  return ca;
}

void WriteCaFrom(const std::string& dir, const OfflineCa& ca) {
  ASSERT_TRUE(MakeDirs(dir, 0700).ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/intermediate.pem", ca.mid_pem, 0644).ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/intermediate.key", ca.mid_key, 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/root.pem", ca.root_pem, 0644).ok());
}

TEST(DataDir, IssuesWithAnIntermediateThatPeersTrustThroughTheRoot) {
  testing::ScratchDir dir;
  OfflineCa ca = MakeOfflineCa();
  WriteCaFrom(dir.Sub("from"), ca);
  DataDirOptions options;
  options.ca_from = dir.Sub("from");
  ASSERT_TRUE(InitDataDir(dir.Sub("data"), options).ok());
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("data/purser.db"), "").ok());
  auto d = OpenOrInitDataDir(dir.Sub("data"), DataDirOptions());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->ca_cert_pem, ca.root_pem);                           // what agents trust
  EXPECT_EQ(d->issuer_cert_pem, *SplitCerts(ca.mid_pem)->begin());  // what signs
  EXPECT_EQ(*ReadFile(dir.Sub("data/ca.key")), ca.mid_key);
  EXPECT_EQ(d->client_trust_path(), dir.Sub("data/ca-chain.pem"));
  // The server and the first admin present their chain: both verify under the root.
  EXPECT_TRUE(VerifyCert(d->server_cert_pem, ca.root_pem).ok());
  EXPECT_TRUE(VerifyCert(*ReadFile(dir.Sub("data/admin.pem")), ca.root_pem).ok());
  EXPECT_TRUE(VerifyIssuedBy(d->server_cert_pem, ca.mid_pem).ok());
  // The root's key is nowhere in the data directory.
  for (const char* f : {"ca.pem", "ca.key", "ca-chain.pem", "server.pem", "admin.pem"}) {
    EXPECT_EQ(ReadFile(dir.Sub(std::string("data/") + f))->find(ca.root_key), std::string::npos);
  }
  // init makes only new directories.
  EXPECT_EQ(InitDataDir(dir.Sub("data"), options).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(DataDir, RefusesAnIntermediateThatCannotServe) {
  testing::ScratchDir dir;
  auto init = [&](const OfflineCa& ca, const std::string& name) {
    WriteCaFrom(dir.Sub(name), ca);
    DataDirOptions options;
    options.ca_from = dir.Sub(name);
    absl::Status st = InitDataDir(dir.Sub(name + "-data"), options);
    EXPECT_FALSE(PathExists(dir.Sub(name + "-data/ca.pem"))) << name;
    return st;
  };
  OfflineCa leaf = MakeOfflineCa();  // not a CA: issued as a leaf
  leaf.mid_pem = IssueCert(leaf.root_key, leaf.root_pem, *PublicKeyDerOfKey(leaf.mid_key),
                           {"Leaf", "server", 3600, false, {}, {}})
                     ->pem;
  EXPECT_NE(init(leaf, "leaf").message().find("is not a CA certificate"), std::string::npos);

  OfflineCa other_root = MakeOfflineCa();
  other_root.root_pem = MakeOfflineCa().root_pem;
  absl::Status st = init(other_root, "other-root");
  EXPECT_NE(st.message().find("does not chain to"), std::string::npos) << st;

  // Issued ten days ago for a day.
  int64_t ten_days_ago = absl::ToUnixMillis(absl::Now()) - 10LL * 24 * 3600 * 1000;
  st = init(MakeOfflineCa(24 * 3600, ten_days_ago), "expired");
  EXPECT_NE(st.message().find("expired"), std::string::npos) << st;

  OfflineCa wrong_key = MakeOfflineCa();
  wrong_key.mid_key = *GenerateKeyPem();
  st = init(wrong_key, "wrong-key");
  EXPECT_NE(st.message().find("is not the private key of"), std::string::npos) << st;

  OfflineCa open_key = MakeOfflineCa();
  WriteCaFrom(dir.Sub("open"), open_key);
  ::chmod(dir.Sub("open/intermediate.key").c_str(), 0644);
  DataDirOptions options;
  options.ca_from = dir.Sub("open");
  st = InitDataDir(dir.Sub("open-data"), options);
  EXPECT_NE(st.message().find("has mode 0644"), std::string::npos) << st;
}

TEST(DataDir, SecretsKeyCanLiveApartAndMustBeTheOwnersAlone) {
  testing::ScratchDir dir;
  ASSERT_TRUE(MakeDirs(dir.Sub("creds"), 0700).ok());
  DataDirOptions options;
  options.secrets_key_file = dir.Sub("creds/secrets-key");
  auto first = OpenOrInitDataDir(dir.Sub("data"), options);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(PathExists(dir.Sub("data/secrets.key")));  // made where asked, not beside the db
  EXPECT_EQ(*FileMode(dir.Sub("creds/secrets-key")), 0600);
  EXPECT_EQ(first->secrets_key, *ReadFile(dir.Sub("creds/secrets-key")));
  ASSERT_TRUE(WriteFileAtomic(first->db_path, "").ok());

  ::chmod(dir.Sub("creds/secrets-key").c_str(), 0640);
  auto st = OpenOrInitDataDir(dir.Sub("data"), options).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find(dir.Sub("creds/secrets-key") + " has mode 0640"), std::string::npos)
      << st;
  ::chmod(dir.Sub("creds/secrets-key").c_str(), 0600);
  // A rotation's pending key is held to the same rule.
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("creds/secrets-key.new"), std::string(32, 'k'), 0644).ok());
  st = OpenOrInitDataDir(dir.Sub("data"), options).status();
  EXPECT_NE(st.message().find("secrets-key.new has mode 0644"), std::string::npos) << st;
  ::unlink(dir.Sub("creds/secrets-key.new").c_str());
  EXPECT_TRUE(OpenOrInitDataDir(dir.Sub("data"), options).ok());

  // Never made again for an existing directory: a new key opens nothing.
  ::unlink(dir.Sub("creds/secrets-key").c_str());
  st = OpenOrInitDataDir(dir.Sub("data"), options).status();
  EXPECT_NE(st.message().find("secrets-key is missing"), std::string::npos) << st;
  EXPECT_FALSE(PathExists(dir.Sub("creds/secrets-key")));

  // Provided before init (a systemd credential): used as it is.
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("creds/given"), std::string(32, 'g'), 0400).ok());
  options.secrets_key_file = dir.Sub("creds/given");
  auto second = OpenOrInitDataDir(dir.Sub("data2"), options);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->secrets_key, std::string(32, 'g'));
}

TEST(DataDir, EveryKeyFileLooserThan0600IsRefused) {
  testing::ScratchDir dir;
  auto first = OpenOrInitDataDir(dir.Sub("d"), DataDirOptions());
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(WriteFileAtomic(first->db_path, "").ok());
  for (const char* key : {"ca.key", "server.key", "secrets.key", "admin.key"}) {
    SCOPED_TRACE(key);
    std::string path = dir.Sub(std::string("d/") + key);
    ::chmod(path.c_str(), 0604);
    auto st = OpenOrInitDataDir(dir.Sub("d"), DataDirOptions()).status();
    EXPECT_NE(st.message().find(path + " has mode 0604"), std::string::npos) << st;
    ::chmod(path.c_str(), 0600);
  }
  EXPECT_TRUE(OpenOrInitDataDir(dir.Sub("d"), DataDirOptions()).ok());
}

}  // namespace
}  // namespace purser::server
