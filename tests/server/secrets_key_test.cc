#include "server/secrets_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "db/sqlite/sqlite_store.h"
#include "server/secrets.h"
#include "shared/crypto.h"
#include "shared/files.h"
#include "tests/test_util.h"

namespace purser::server {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

// A real store and key file with two secrets sealed under the first key.
class SecretsKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_path_ = dir_.Sub("secrets.key");
    old_key_ = RandomBytes(32);
    ASSERT_TRUE(WriteFileAtomic(key_path_, old_key_, 0600).ok());
    auto store = db::SqliteStore::Open(dir_.Sub("purser.db"), true);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    SecretBox box(old_key_, store_.get(), key_path_);
    ASSERT_TRUE(box.Put("alpha", "value-alpha", kNow).ok());
    ASSERT_TRUE(box.Put("beta", "value-beta", kNow).ok());
  }
  bool Opens(const std::string& key) { return OpensAllSecrets(key, store_.get()); }

  testing::ScratchDir dir_;
  std::string key_path_;
  std::string old_key_;
  std::unique_ptr<db::SqliteStore> store_;
};

TEST_F(SecretsKeyTest, RotationReSealsEverySecretAndReplacesTheKeyFile) {
  SecretBox box(old_key_, store_.get(), key_path_);
  auto count = box.RotateKey(kNow + 1);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 2);
  std::string new_key = *ReadFile(key_path_);
  EXPECT_NE(new_key, old_key_);
  EXPECT_EQ(new_key.size(), 32u);
  EXPECT_EQ(*FileMode(key_path_), 0600);
  EXPECT_FALSE(PathExists(PendingKeyPath(key_path_)));
  EXPECT_TRUE(Opens(new_key));
  EXPECT_FALSE(Open(old_key_, *store_->GetSealedSecret("alpha"), "alpha").ok());
  EXPECT_EQ(*box.Get("beta"), "value-beta");  // the box uses the new key at once
  // A fresh start with the file reads the new key and opens everything.
  EXPECT_EQ(*RecoverSecretsKey(key_path_, new_key, store_.get()), new_key);
}

// A crash after <key>.new is written but before the transaction commits:
// the old key still opens every secret, and the start removes <key>.new.
TEST_F(SecretsKeyTest, CrashBeforeTheTransactionKeepsTheOldKey) {
  auto pending = WritePendingKey(key_path_);
  ASSERT_TRUE(pending.ok());
  ASSERT_TRUE(PathExists(PendingKeyPath(key_path_)));
  auto key = RecoverSecretsKey(key_path_, old_key_, store_.get());
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, old_key_);
  EXPECT_EQ(*ReadFile(key_path_), old_key_);
  EXPECT_FALSE(PathExists(PendingKeyPath(key_path_)));
  EXPECT_TRUE(Opens(old_key_));
}

// A crash after the transaction committed, before the rename: the secrets
// are sealed under <key>.new, and the start finishes the swap.
TEST_F(SecretsKeyTest, CrashAfterTheTransactionFinishesTheSwap) {
  auto pending = WritePendingKey(key_path_);
  ASSERT_TRUE(pending.ok());
  auto count = ResealAll(store_.get(), old_key_, *pending, kNow + 1);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_FALSE(Opens(old_key_));
  auto key = RecoverSecretsKey(key_path_, old_key_, store_.get());
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, *pending);
  EXPECT_EQ(*ReadFile(key_path_), *pending);
  EXPECT_FALSE(PathExists(PendingKeyPath(key_path_)));
  EXPECT_TRUE(Opens(*key));
}

TEST_F(SecretsKeyTest, NeitherKeyOpeningTheSecretsIsRefused) {
  ASSERT_TRUE(WriteFileAtomic(PendingKeyPath(key_path_), RandomBytes(32), 0600).ok());
  auto key = RecoverSecretsKey(key_path_, RandomBytes(32), store_.get());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(PathExists(PendingKeyPath(key_path_)));  // nothing removed
}

// A systemd credential is read-only: the rotation refuses before changing
// anything, names the file and the offline way.
TEST_F(SecretsKeyTest, ReadOnlyKeyFileFailsCleanly) {
  ASSERT_EQ(::chmod(key_path_.c_str(), 0400), 0);
  SecretBox box(old_key_, store_.get(), key_path_);
  auto count = box.RotateKey(kNow + 1);
  EXPECT_EQ(count.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(count.status().message().find(key_path_), std::string::npos) << count.status();
  EXPECT_NE(count.status().message().find("purser-server rotate-secrets-key"), std::string::npos);
  EXPECT_FALSE(PathExists(PendingKeyPath(key_path_)));
  EXPECT_TRUE(Opens(old_key_));
  EXPECT_EQ(count.status().message().find(old_key_), std::string::npos);
}

// A rotation whose rename fails leaves <key>.new the only copy of the key
// that opens the secrets: a retry refuses, naming the file, and leaves it be.
TEST_F(SecretsKeyTest, RetryAfterAFailedRenameKeepsTheOnlyCopyOfTheKey) {
  std::string key_dir = dir_.Sub("key-in-use");  // rename(2) onto a directory fails
  ASSERT_EQ(::mkdir(key_dir.c_str(), 0700), 0);
  SecretBox box(old_key_, store_.get(), key_dir);
  auto first = box.RotateKey(kNow + 1);
  ASSERT_EQ(first.status().code(), absl::StatusCode::kInternal) << first.status();
  std::string pending = PendingKeyPath(key_dir);
  std::string live = *ReadFile(pending);
  ASSERT_TRUE(Opens(live));
  auto retry = box.RotateKey(kNow + 2);
  EXPECT_EQ(retry.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(retry.status().message().find(pending), std::string::npos) << retry.status();
  EXPECT_NE(retry.status().message().find("Restart the server"), std::string::npos);
  EXPECT_EQ(retry.status().message().find(live), std::string::npos);
  EXPECT_EQ(*ReadFile(pending), live);
  EXPECT_TRUE(Opens(live));
  EXPECT_EQ(*box.Get("alpha"), "value-alpha");
}

TEST_F(SecretsKeyTest, PendingKeyIsNeverOverwrittenNorRemovedByAnotherRotation) {
  std::string earlier = RandomBytes(32);
  ASSERT_TRUE(WriteFileAtomic(PendingKeyPath(key_path_), earlier, 0600).ok());
  EXPECT_EQ(WritePendingKey(key_path_).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*ReadFile(PendingKeyPath(key_path_)), earlier);
  SecretBox box(old_key_, store_.get(), key_path_);
  EXPECT_EQ(box.RotateKey(kNow + 1).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*ReadFile(PendingKeyPath(key_path_)), earlier);
  EXPECT_EQ(*ReadFile(key_path_), old_key_);
  EXPECT_TRUE(Opens(old_key_));
}

// A re-seal that fails removes the <key>.new this rotation made, and only it.
TEST_F(SecretsKeyTest, FailedResealRemovesItsOwnPendingKey) {
  SecretBox box(RandomBytes(32), store_.get(), key_path_);  // does not open the secrets
  EXPECT_EQ(box.RotateKey(kNow + 1).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(PathExists(PendingKeyPath(key_path_)));
  EXPECT_EQ(*ReadFile(key_path_), old_key_);
  EXPECT_TRUE(Opens(old_key_));
}

TEST_F(SecretsKeyTest, KeyFileMustBePrivateAnd32Bytes) {
  ASSERT_EQ(::chmod(key_path_.c_str(), 0644), 0);
  EXPECT_NE(ReadSecretsKey(key_path_).status().message().find("has mode 0644"), std::string::npos);
  ASSERT_TRUE(WriteFileAtomic(key_path_, "short", 0600).ok());
  EXPECT_NE(ReadSecretsKey(key_path_).status().message().find("must hold 32 bytes"),
            std::string::npos);
}

}  // namespace
}  // namespace purser::server
