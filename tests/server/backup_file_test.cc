#include "server/backup_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "db/migrations.h"
#include "db/sqlite/sqlite_store.h"
#include "server/data_dir.h"
#include "server/restore.h"
#include "shared/crypto.h"
#include "shared/dir_lock.h"
#include "shared/files.h"
#include "shared/x509.h"
#include "tests/test_util.h"

namespace purser::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class BackupFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.Sub("data");
    auto d = OpenOrInitDataDir(data_, std::vector<std::string>{});
    ASSERT_TRUE(d.ok()) << d.status();
    auto store = db::SqliteStore::Open(d->db_path, true);
    ASSERT_TRUE(store.ok()) << store.status();
    v1::ArtifactInfo a;
    a.set_name("kb.msu");
    a.set_sha256(Sha256Hex(artifact_));
    a.set_size(static_cast<int64_t>(artifact_.size()));
    ASSERT_TRUE((*store)->PutArtifact(a).ok());
    ASSERT_TRUE(MakeDirs(data_ + "/artifacts", 0700).ok());
    ASSERT_TRUE(WriteFileAtomic(data_ + "/artifacts/" + a.sha256(), artifact_, 0600).ok());
    backup_ = dir_.Sub("fleet.backup");
  }

  BackupSummary Backup() {
    auto sum = WriteBackup(data_, backup_, false);
    EXPECT_TRUE(sum.ok()) << sum.status();
    return sum.ok() ? *sum : BackupSummary{};
  }

  // Changes the backup with SQL, as someone with the sqlite3 tool could.
  void Alter(const std::string& sql) {
    auto c = db::Connection::OpenFile(backup_, SQLITE_OPEN_READWRITE);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->ExecScript(sql).ok()) << sql;
  }

  std::string VerifyError() {
    auto v = VerifyBackup(backup_);
    EXPECT_FALSE(v.ok());
    std::string msg(v.status().message());
    EXPECT_THAT(msg, HasSubstr("backup " + backup_ + ": "));
    return msg;
  }

  testing::ScratchDir dir_;
  std::string data_;
  std::string backup_;
  // Over one chunk (1 MiB), so that files span rows.
  const std::string artifact_ = std::string(1500 * 1024, 'x') + "end";
};

TEST_F(BackupFileTest, RoundTripRestoresEveryFile) {
  BackupSummary sum = Backup();
  EXPECT_EQ(*FileMode(backup_), 0600);
  EXPECT_EQ(sum.schema_version, db::Migrations().back().version);
  EXPECT_EQ(sum.artifacts, 1);
  EXPECT_TRUE(sum.secrets_key_included);
  EXPECT_EQ(sum.sha256, *Sha256HexOfFile(backup_));
  std::string line = sum.Line();
  EXPECT_THAT(line, HasSubstr("schema version"));
  EXPECT_THAT(line, HasSubstr(sum.sha256));
  EXPECT_EQ(line.find("PRIVATE KEY"), std::string::npos);
  EXPECT_FALSE(PathExists(backup_ + "-journal"));

  std::string target = dir_.Sub("restored");
  auto r = RestoreDataDir(backup_, target, false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->moved_aside.empty());
  for (const char* f :
       {"ca.pem", "ca.key", "server.pem", "server.key", "secrets.key", "admin.pem", "admin.key"}) {
    EXPECT_EQ(*ReadFile(target + "/" + f), *ReadFile(data_ + "/" + f)) << f;
    EXPECT_EQ(*FileMode(target + "/" + f), *FileMode(data_ + "/" + f)) << f;
  }
  EXPECT_EQ(*ReadFile(target + "/artifacts/" + Sha256Hex(artifact_)), artifact_);
  auto d = OpenOrInitDataDir(target, std::vector<std::string>{});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->created);
  auto store = db::SqliteStore::Open(d->db_path, false);
  ASSERT_TRUE(store.ok()) << store.status();
  auto artifacts = (*store)->ListArtifacts();
  ASSERT_TRUE(artifacts.ok());
  ASSERT_EQ(artifacts->size(), 1u);
  EXPECT_EQ(artifacts->front().name(), "kb.msu");
  // The restored database is the fleet's alone: no backup tables in it.
  auto c = db::Connection::OpenFile(d->db_path, SQLITE_OPEN_READONLY);
  auto s = (*c)->Prepare("SELECT count(*) FROM sqlite_master WHERE name LIKE 'purser_backup%'");
  ASSERT_TRUE(*s->Step());
  EXPECT_EQ(s->Int(0), 0);
}

TEST_F(BackupFileTest, ExistingOutputIsKeptWithoutForce) {
  ASSERT_TRUE(WriteFileAtomic(backup_, "precious", 0600).ok());
  auto sum = WriteBackup(data_, backup_, false);
  EXPECT_EQ(sum.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(sum.status().message(), HasSubstr(backup_ + " exists"));
  EXPECT_THAT(sum.status().message(), HasSubstr("--force"));
  EXPECT_EQ(*ReadFile(backup_), "precious");
  ASSERT_TRUE(WriteBackup(data_, backup_, true).ok());
  EXPECT_TRUE(VerifyBackup(backup_).ok());
}

TEST_F(BackupFileTest, DamagedFileIsNamed) {
  Backup();
  // Garbage over the second page (a b-tree page of the database).
  std::string bytes = *ReadFile(backup_);
  bytes.replace(4096, 4096, std::string(4096, '\xa5'));
  ASSERT_TRUE(WriteFileAtomic(backup_, bytes, 0600).ok());
  EXPECT_THAT(VerifyError(), HasSubstr("damaged"));
}

TEST_F(BackupFileTest, TruncatedFileIsNamed) {
  Backup();
  ASSERT_EQ(::truncate(backup_.c_str(), static_cast<off_t>(ReadFile(backup_)->size() / 2)), 0);
  EXPECT_THAT(VerifyError(), HasSubstr("damaged"));
  ASSERT_EQ(::truncate(backup_.c_str(), 0), 0);
  EXPECT_THAT(VerifyError(), HasSubstr("empty"));
}

TEST_F(BackupFileTest, NewerSchemaAsksForANewerServer) {
  Backup();
  int64_t known = db::Migrations().back().version;
  int64_t newer = known + 1;
  Alter("INSERT INTO schema_migrations VALUES (" + std::to_string(newer) + ", 'future', 0)");
  EXPECT_THAT(VerifyError(), HasSubstr("backup has schema version " + std::to_string(newer) +
                                       ", this server knows up to " + std::to_string(known) +
                                       ": install a newer purser-server"));
}

TEST_F(BackupFileTest, MissingKeyIsNamed) {
  Backup();
  Alter("DELETE FROM purser_backup_files WHERE path = 'ca.key'");
  EXPECT_THAT(VerifyError(), HasSubstr("has no ca.key"));
}

TEST_F(BackupFileTest, TamperedKeyIsNamed) {
  Backup();
  Alter("UPDATE purser_backup_chunks SET data = X'00112233' WHERE path = 'server.key'");
  EXPECT_THAT(VerifyError(), HasSubstr("server.key: holds 4 bytes"));
  Alter("UPDATE purser_backup_files SET size = 4 WHERE path = 'server.key'");
  EXPECT_THAT(VerifyError(), HasSubstr("server.key: content does not match its SHA-256"));
}

TEST_F(BackupFileTest, KeyOfAnotherCaIsRefused) {
  Backup();
  auto other = GenerateKeyPem();
  ASSERT_TRUE(other.ok());
  {
    auto c = db::Connection::OpenFile(backup_, SQLITE_OPEN_READWRITE);
    auto s = (*c)->Prepare("UPDATE purser_backup_chunks SET data = ? WHERE path = 'ca.key'");
    ASSERT_TRUE(s->BindBlob(1, *other).Exec().ok());
    auto f =
        (*c)->Prepare("UPDATE purser_backup_files SET size = ?, sha256 = ? WHERE path = 'ca.key'");
    ASSERT_TRUE(
        f->Bind(1, static_cast<int64_t>(other->size())).Bind(2, Sha256Hex(*other)).Exec().ok());
  }
  EXPECT_THAT(VerifyError(), HasSubstr("ca.key is not the key of ca.pem"));
}

TEST_F(BackupFileTest, OtherFilesAreNotBackups) {
  backup_ = data_ + "/purser.db";  // a SQLite database, but no backup
  EXPECT_THAT(VerifyError(), HasSubstr("not a Purser backup"));
  backup_ = data_ + "/ca.pem";
  EXPECT_THAT(VerifyError(), HasSubstr("not a Purser backup: not a SQLite database"));
  backup_ = dir_.Sub("absent");
  EXPECT_THAT(VerifyError(), HasSubstr("No such file"));
}

TEST_F(BackupFileTest, SecretsKeyOutsideTheDataDirectoryIsNotCarried) {
  ASSERT_EQ(::rename((data_ + "/secrets.key").c_str(), dir_.Sub("secrets.key").c_str()), 0);
  BackupSummary sum = Backup();
  EXPECT_FALSE(sum.secrets_key_included);
  EXPECT_THAT(sum.Line(), HasSubstr("secrets.key NOT included"));
  std::string target = dir_.Sub("restored");
  auto r = RestoreDataDir(backup_, target, false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->backup.secrets_key_included);
  EXPECT_TRUE(PathExists(target + "/ca.key"));
  EXPECT_FALSE(PathExists(target + "/secrets.key"));
}

TEST_F(BackupFileTest, RestoreKeepsTheOldDirectoryAndRefusesALockedOne) {
  Backup();
  std::string target = dir_.Sub("live");
  ASSERT_TRUE(MakeDirs(target, 0700).ok());
  ASSERT_TRUE(WriteFileAtomic(target + "/notes", "the operator's", 0600).ok());
  auto refused = RestoreDataDir(backup_, target, false);
  EXPECT_THAT(refused.status().message(), HasSubstr("is not empty"));
  {
    auto lock = DirLock::Acquire(target);  // as a running server holds it
    ASSERT_TRUE(lock.ok());
    auto running = RestoreDataDir(backup_, target, true);
    EXPECT_EQ(running.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(running.status().message(), HasSubstr("in use by another purser-server"));
  }
  auto r = RestoreDataDir(backup_, target, true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->moved_aside, HasSubstr(target + ".before-restore-"));
  EXPECT_EQ(*ReadFile(r->moved_aside + "/notes"), "the operator's");
  EXPECT_TRUE(PathExists(target + "/ca.key"));
  EXPECT_FALSE(PathExists(target + "/notes"));
}

TEST_F(BackupFileTest, ABadBackupChangesNothing) {
  Backup();
  Alter("DELETE FROM purser_backup_files WHERE path = 'server.pem'");
  std::string target = dir_.Sub("live");
  ASSERT_TRUE(MakeDirs(target, 0700).ok());
  ASSERT_TRUE(WriteFileAtomic(target + "/notes", "the operator's", 0600).ok());
  auto r = RestoreDataDir(backup_, target, true);
  EXPECT_THAT(r.status().message(), HasSubstr("has no server.pem"));
  EXPECT_EQ(*ReadFile(target + "/notes"), "the operator's");
  EXPECT_FALSE(PathExists(target + ".restore-tmp-" + std::to_string(::getpid())));
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    EXPECT_THAT(e.path().filename().string(), Not(HasSubstr("live.")));  // nothing left beside
  }
}

// A restore cut short by a kill may have left the old data under a temporary
// name: no later restore deletes it.
TEST_F(BackupFileTest, RestoreNeverRemovesWhatAnEarlierRunLeft) {
  Backup();
  std::string target = dir_.Sub("live");
  ASSERT_TRUE(MakeDirs(target, 0700).ok());
  ASSERT_TRUE(WriteFileAtomic(target + "/notes", "the operator's", 0600).ok());
  for (const std::string& left :
       {target + ".restore-tmp-" + std::to_string(::getpid()), target + ".restore-tmp"}) {
    ASSERT_TRUE(MakeDirs(left, 0700).ok());
    ASSERT_TRUE(WriteFileAtomic(left + "/purser.db", "old data", 0600).ok());
  }
  auto r = RestoreDataDir(backup_, target, true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(
      ReadFile(target + ".restore-tmp-" + std::to_string(::getpid()) + "/purser.db").value_or(""),
      "old data");
  EXPECT_EQ(ReadFile(target + ".restore-tmp/purser.db").value_or(""), "old data");
  EXPECT_EQ(ReadFile(r->moved_aside + "/notes").value_or(""), "the operator's");
  // A second restore the same second keeps the first one's aside too.
  auto again = RestoreDataDir(backup_, target, true);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(again->moved_aside, r->moved_aside);
  EXPECT_EQ(ReadFile(r->moved_aside + "/notes").value_or(""), "the operator's");
  EXPECT_TRUE(PathExists(again->moved_aside + "/ca.key"));
}

TEST_F(BackupFileTest, DataDirIsNotCreatedBesideAnUnfinishedRestore) {
  std::string target = dir_.Sub("live");
  std::string left = target + ".restore-tmp-Ab12Cd";
  ASSERT_TRUE(MakeDirs(left, 0700).ok());
  auto d = OpenOrInitDataDir(target, std::vector<std::string>{});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(d.status().message(), HasSubstr(left + " is left by a restore that was cut short"));
  EXPECT_THAT(d.status().message(), HasSubstr("mv -T " + left + " " + target));
  // `purser-server init` neither.
  absl::Status init = InitDataDir(target, DataDirOptions{});
  EXPECT_THAT(init.message(), HasSubstr("cut short"));
  EXPECT_FALSE(PathExists(target + "/ca.key"));
  ASSERT_EQ(::rmdir(left.c_str()), 0);
  EXPECT_TRUE(OpenOrInitDataDir(target, std::vector<std::string>{}).ok());
}

TEST_F(BackupFileTest, BackupLeavesOtherTemporaryFilesAlone) {
  std::string other = backup_ + ".tmp." + std::to_string(::getpid());
  ASSERT_TRUE(WriteFileAtomic(other, "someone's", 0600).ok());
  Backup();
  EXPECT_EQ(ReadFile(other).value_or(""), "someone's");
  EXPECT_TRUE(VerifyBackup(backup_).ok());
}

class BackupSecretsTest : public BackupFileTest {
 protected:
  void PutSecret(const std::string& key) {
    auto store = db::SqliteStore::Open(data_ + "/purser.db", false);
    ASSERT_TRUE(store.ok()) << store.status();
    auto sealed = Seal(key, "hunter2", "smtp-password");
    ASSERT_TRUE(sealed.ok());
    ASSERT_TRUE((*store)->PutSecret("smtp-password", *sealed, 1).ok());
  }
  std::string Key() { return *ReadFile(data_ + "/secrets.key"); }
  void NoTempFiles() {
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
      EXPECT_THAT(e.path().filename().string(), Not(HasSubstr(".tmp.")));
    }
  }
};

// A secrets key rotation between the snapshot and the key copy: the copy
// would not open the snapshot's secrets.
TEST_F(BackupSecretsTest, KeyThatDoesNotOpenTheSecretsIsRefused) {
  std::string key = Key();
  PutSecret(key);
  ASSERT_TRUE(WriteFileAtomic(data_ + "/secrets.key", RandomBytes(32), 0600).ok());
  auto sum = WriteBackup(data_, backup_, false);
  ASSERT_FALSE(sum.ok());
  EXPECT_EQ(sum.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(sum.status().message(),
              HasSubstr("secret \"smtp-password\" does not open with its secrets.key"));
  EXPECT_EQ(sum.status().message().find("hunter2"), std::string::npos);
  EXPECT_FALSE(PathExists(backup_));
  NoTempFiles();
  // secrets.key.new opens them (a rotation cut short): the server's rule.
  ASSERT_TRUE(WriteFileAtomic(data_ + "/secrets.key.new", key, 0600).ok());
  BackupSummary ok = Backup();
  EXPECT_TRUE(ok.secrets_key_included);
  EXPECT_TRUE(VerifyBackup(backup_).ok());
}

TEST_F(BackupSecretsTest, RestoreRefusesABackupWhoseKeyDoesNotOpenItsSecrets) {
  PutSecret(Key());
  Backup();
  ASSERT_TRUE(VerifyBackup(backup_).ok());
  auto other = Seal(RandomBytes(32), "hunter2", "smtp-password");
  {
    auto c = db::Connection::OpenFile(backup_, SQLITE_OPEN_READWRITE);
    auto s = (*c)->Prepare("UPDATE secrets SET sealed = ? WHERE name = 'smtp-password'");
    ASSERT_TRUE(s->BindBlob(1, *other).Exec().ok());
  }
  EXPECT_THAT(VerifyError(), HasSubstr("secret \"smtp-password\" does not open"));
  std::string target = dir_.Sub("live");
  ASSERT_TRUE(MakeDirs(target, 0700).ok());
  ASSERT_TRUE(WriteFileAtomic(target + "/notes", "the operator's", 0600).ok());
  auto r = RestoreDataDir(backup_, target, true);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ReadFile(target + "/notes").value_or(""), "the operator's");
}

// The server reads its key from elsewhere; a stray DATA_DIR/secrets.key is
// another key.
TEST_F(BackupSecretsTest, KeyFileNamedOnTheCommandLineIsTheOneChecked) {
  std::string key = Key();
  PutSecret(key);
  std::string apart = dir_.Sub("secrets.key");
  ASSERT_TRUE(WriteFileAtomic(apart, key, 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(data_ + "/secrets.key", RandomBytes(32), 0600).ok());
  EXPECT_EQ(WriteBackup(data_, backup_, false).status().code(), absl::StatusCode::kDataLoss);
  auto sum = WriteBackup(data_, backup_, false, apart);
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_FALSE(sum->secrets_key_included);
  EXPECT_TRUE(VerifyBackup(backup_, apart).ok());
  auto wrong = VerifyBackup(backup_, data_ + "/secrets.key");
  EXPECT_THAT(wrong.status().message(), HasSubstr("does not open with " + data_ + "/secrets.key"));
  std::string target = dir_.Sub("restored");
  EXPECT_FALSE(RestoreDataDir(backup_, target, false, data_ + "/secrets.key").ok());
  EXPECT_FALSE(PathExists(target));
  auto r = RestoreDataDir(backup_, target, false, apart);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(PathExists(target + "/secrets.key"));
}

}  // namespace
}  // namespace purser::server
