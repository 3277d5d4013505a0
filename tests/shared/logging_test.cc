#include "shared/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "shared/files.h"
#include "tests/test_util.h"

namespace purser {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// Sends stderr to a file for the test's lifetime.
class CapturedStderr {
 public:
  explicit CapturedStderr(std::string path) : path_(std::move(path)) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    std::freopen(path_.c_str(), "w", stderr);
  }
  ~CapturedStderr() {
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    SetLogToJournal(false);
    SetLogLevel(LogLevel::kInfo);
    ::unsetenv("JOURNAL_STREAM");
  }
  std::string Text() {
    std::fflush(stderr);
    return *ReadFile(path_);
  }

 private:
  std::string path_;
  int saved_ = -1;
};

TEST(Logging, JournalLinesCarryTheSyslogPriorityAndStayRedacted) {
  testing::ScratchDir dir;
  CapturedStderr err(dir.Sub("stderr"));
  RegisterSecret("hunter2-workspace-key");
  SetLogToJournal(true);
  SetLogLevel(LogLevel::kDebug);
  LogDebug("d");
  LogInfo("i");
  LogWarning("key is %s", "hunter2-workspace-key");
  LogError("e\nforged");
  EXPECT_EQ(err.Text(), "<7>d\n<6>i\n<4>key is [REDACTED]\n<3>e\\x0aforged\n");
}

TEST(Logging, PlainLinesHaveLevelAndTimeAndTheLevelFilters) {
  testing::ScratchDir dir;
  CapturedStderr err(dir.Sub("stderr"));
  SetLogLevel(LogLevel::kWarning);
  LogInfo("hidden");
  LogWarning("shown");
  EXPECT_THAT(err.Text(), MatchesRegex("W [0-9T:.-]+Z shown\n"));
}

TEST(Logging, StderrIsTheJournalOnlyWhenJournalStreamNamesIt) {
  testing::ScratchDir dir;
  CapturedStderr err(dir.Sub("stderr"));
  EXPECT_FALSE(StderrIsJournal());  // unset
  struct stat st;
  ASSERT_EQ(::fstat(2, &st), 0);
  ::setenv("JOURNAL_STREAM", absl::StrCat(st.st_dev, ":", st.st_ino).c_str(), 1);
  EXPECT_TRUE(StderrIsJournal());
  // Inherited by a child whose stderr was redirected elsewhere: not the journal.
  ::setenv("JOURNAL_STREAM", absl::StrCat(st.st_dev, ":", st.st_ino + 1).c_str(), 1);
  EXPECT_FALSE(StderrIsJournal());
  ::setenv("JOURNAL_STREAM", "garbage", 1);
  EXPECT_FALSE(StderrIsJournal());
}

TEST(Logging, LevelsParseAsFlags) {
  LogLevel level = LogLevel::kInfo;
  std::string error;
  EXPECT_TRUE(AbslParseFlag("error", &level, &error));
  EXPECT_EQ(level, LogLevel::kError);
  EXPECT_EQ(AbslUnparseFlag(LogLevel::kWarning), "warning");
  EXPECT_FALSE(AbslParseFlag("WARN", &level, &error));
  EXPECT_THAT(error, HasSubstr("debug, info, warning or error"));
  EXPECT_EQ(level, LogLevel::kError);
}

}  // namespace
}  // namespace purser
