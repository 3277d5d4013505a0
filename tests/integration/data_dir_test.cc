// The server's data directory: initialised once, checked on every start, with
// errors that name what is wrong; SIGTERM shuts down cleanly.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/files.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

class DataDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path());
    ASSERT_TRUE(server_->Start().ok());
    server_->Kill(SIGTERM);
    ASSERT_EQ(server_->Wait(), 0) << server_->Log();
    EXPECT_NE(server_->Log().find("stopped"), std::string::npos);
  }
  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(DataDirTest, InitialisedWithPrivateKeysOwnerOnly) {
  for (const char* f :
       {"ca.key", "server.key", "secrets.key", "admin.key", "admin.pem", "purser.db"}) {
    struct stat st;
    ASSERT_EQ(::stat((server_->data_dir() + "/" + f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  ASSERT_TRUE(server_->Start().ok()) << "restart on an existing directory";
}

TEST_F(DataDirTest, CorruptDatabaseIsNamed) {
  std::string db = server_->data_dir() + "/purser.db";
  ::unlink((db + "-wal").c_str());
  ::unlink((db + "-shm").c_str());
  ASSERT_TRUE(WriteFileAtomic(db, std::string(8192, 'x')).ok());
  EXPECT_FALSE(server_->Start().ok());
  EXPECT_NE(server_->Wait(), 0);
  EXPECT_NE(server_->Log().find("purser.db"), std::string::npos) << server_->Log();
  EXPECT_NE(server_->Log().find("not a database"), std::string::npos) << server_->Log();
}

TEST_F(DataDirTest, MissingKeyIsNamed) {
  ::unlink((server_->data_dir() + "/ca.key").c_str());
  EXPECT_FALSE(server_->Start().ok());
  EXPECT_NE(server_->Log().find("ca.key"), std::string::npos) << server_->Log();
}

TEST_F(DataDirTest, MissingDatabaseIsRefusedNotRecreated) {
  ::unlink((server_->data_dir() + "/purser.db").c_str());
  EXPECT_FALSE(server_->Start().ok());
  EXPECT_NE(server_->Log().find("no database"), std::string::npos) << server_->Log();
  EXPECT_FALSE(PathExists(server_->data_dir() + "/purser.db"));
}

// A 0-byte purser.db (a truncated copy, a full disk during a restore) is a
// damaged fleet, not a new one: the server must not start on it.
TEST_F(DataDirTest, EmptyDatabaseIsRefusedNotInitialised) {
  std::string db = server_->data_dir() + "/purser.db";
  ::unlink((db + "-wal").c_str());
  ::unlink((db + "-shm").c_str());
  ASSERT_EQ(::truncate(db.c_str(), 0), 0);
  EXPECT_FALSE(server_->Start().ok());
  EXPECT_NE(server_->Log().find("purser.db"), std::string::npos) << server_->Log();
  EXPECT_NE(server_->Log().find("empty"), std::string::npos) << server_->Log();
  struct stat st;
  ASSERT_EQ(::stat(db.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0) << "the damaged file is left as it was";
}

TEST_F(DataDirTest, KeyReadableByOthersIsRefused) {
  for (const char* f : {"ca.key", "secrets.key", "admin.key"}) {
    std::string path = server_->data_dir() + "/" + f;
    ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
    EXPECT_FALSE(server_->Start().ok()) << f;
    EXPECT_NE(server_->Log().find(f), std::string::npos) << server_->Log();
    EXPECT_NE(server_->Log().find("0644"), std::string::npos) << server_->Log();
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  }
  ASSERT_EQ(::chmod(server_->data_dir().c_str(), 0755), 0);
  EXPECT_FALSE(server_->Start().ok());
  EXPECT_NE(server_->Log().find("0755"), std::string::npos) << server_->Log();
  ASSERT_EQ(::chmod(server_->data_dir().c_str(), 0700), 0);
  EXPECT_TRUE(server_->Start().ok()) << server_->Log();
}

}  // namespace
}  // namespace purser::testing
