#include "server/backup_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

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
}

}  // namespace
}  // namespace purser::server
