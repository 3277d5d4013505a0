#include "server/config_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "shared/files.h"
#include "shared/logging.h"
#include "tests/test_util.h"

// Flags of this test binary stand in for purser-server's.
ABSL_FLAG(std::string, cf_listen, "127.0.0.1:7443", "test");
ABSL_FLAG(int, cf_workers, 16, "test");
ABSL_FLAG(bool, cf_drift, false, "test");
ABSL_FLAG(purser::LogLevel, cf_log_level, purser::LogLevel::kInfo, "test");

namespace purser::server {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class ConfigFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    std::string path = dir_.Sub("purser-server.conf");
    EXPECT_TRUE(WriteFileAtomic(path, text).ok());
    return path;
  }
  absl::FlagSaver saver_;  // every test starts from the defaults
  testing::ScratchDir dir_;
};

TEST_F(ConfigFileTest, ParsesKeyValueLinesCommentsAndBlanks) {
  auto entries = ParseConfig(
      "# the server\n\n  cf_listen = 0.0.0.0:7443   # all interfaces\r\n"
      "cf_workers=32\n\t# indented comment\ncf_drift =\n",
      "x.conf");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].key, "cf_listen");
  EXPECT_EQ((*entries)[0].value, "0.0.0.0:7443");
  EXPECT_EQ((*entries)[0].line, 3);
  EXPECT_EQ((*entries)[1].value, "32");
  EXPECT_EQ((*entries)[1].line, 4);
  EXPECT_EQ((*entries)[2].key, "cf_drift");
  EXPECT_EQ((*entries)[2].value, "");
}

TEST_F(ConfigFileTest, ALineThatIsNotKeyValueNamesFileAndLine) {
  auto entries = ParseConfig("cf_workers = 2\nlisten 0.0.0.0\n", "/etc/purser/x.conf");
  ASSERT_FALSE(entries.ok());
  EXPECT_EQ(entries.status().message(),
            "/etc/purser/x.conf:2: expected `key = value`, got \"listen 0.0.0.0\"");
  EXPECT_THAT(ParseConfig("= 3\n", "x.conf").status().message(), HasSubstr("x.conf:1: expected"));
  EXPECT_THAT(ParseConfig("two words = 3\n", "x.conf").status().message(),
              HasSubstr("x.conf:1: expected"));
}

TEST_F(ConfigFileTest, UnknownDuplicateAndForbiddenKeysAreErrors) {
  EXPECT_EQ(ParseConfig("\ncf_lisen = 1\n", "x.conf").status().message(),
            "x.conf:2: unknown key \"cf_lisen\" (purser-server --help lists them)");
  EXPECT_EQ(ParseConfig("cf_workers = 1\ncf_workers = 2\n", "x.conf").status().message(),
            "x.conf:2: cf_workers: set twice (also on line 1)");
  // Abseil's own flags are not settings.
  EXPECT_THAT(ParseConfig("flagfile = /tmp/x\n", "x.conf").status().message(),
              HasSubstr("x.conf:1: unknown key \"flagfile\""));
  EXPECT_THAT(ParseConfig("config = /etc/other.conf\n", "x.conf").status().message(),
              HasSubstr("x.conf:1: config:"));
}

TEST_F(ConfigFileTest, AppliesValuesAndTheCommandLineWins) {
  absl::SetFlag(&FLAGS_cf_workers, 4);  // as if given on the command line
  std::string path =
      Write("cf_listen = 0.0.0.0:7443\ncf_workers = 64\ncf_drift = true\ncf_log_level = debug\n");
  auto changed = ApplyConfigFile(path, {"cf_workers"});
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(absl::GetFlag(FLAGS_cf_listen), "0.0.0.0:7443");
  EXPECT_EQ(absl::GetFlag(FLAGS_cf_workers), 4);
  EXPECT_TRUE(absl::GetFlag(FLAGS_cf_drift));
  EXPECT_EQ(absl::GetFlag(FLAGS_cf_log_level), LogLevel::kDebug);
  EXPECT_THAT(*changed, UnorderedElementsAre("cf_listen", "cf_drift", "cf_log_level"));
}

TEST_F(ConfigFileTest, ReadingAgainGivesWhatARestartWould) {
  ASSERT_TRUE(ApplyConfigFile(Write("cf_listen = 0.0.0.0:1\ncf_log_level = debug\n"), {}).ok());
  // The administrator removes log_level and leaves listen: log_level is the default again.
  auto changed = ApplyConfigFile(Write("cf_listen = 0.0.0.0:1\n"), {});
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(absl::GetFlag(FLAGS_cf_log_level), LogLevel::kInfo);
  EXPECT_EQ(absl::GetFlag(FLAGS_cf_listen), "0.0.0.0:1");
  EXPECT_THAT(*changed, UnorderedElementsAre("cf_log_level"));
}

TEST_F(ConfigFileTest, ABadValueNamesFileLineAndKeyAndChangesNothing) {
  std::string path = Write("cf_listen = 0.0.0.0:7443\n\ncf_workers = many\n");
  auto changed = ApplyConfigFile(path, {});
  ASSERT_FALSE(changed.ok());
  EXPECT_THAT(changed.status().message(), HasSubstr(path + ":3: cf_workers: "));
  EXPECT_THAT(changed.status().message(), HasSubstr("'many'"));
  EXPECT_EQ(absl::GetFlag(FLAGS_cf_listen), "127.0.0.1:7443");  // the line before was undone
  EXPECT_EQ(absl::GetFlag(FLAGS_cf_workers), 16);

  changed = ApplyConfigFile(Write("cf_log_level = loud\n"), {});
  ASSERT_FALSE(changed.ok());
  EXPECT_THAT(changed.status().message(), HasSubstr(":1: cf_log_level: "));
  EXPECT_THAT(changed.status().message(), HasSubstr("debug, info, warning or error"));
}

TEST_F(ConfigFileTest, AReloadAppliesOnlyTheReloadableAndNamesTheOthersEveryTime) {
  // As started: cf_listen from the file, in use until a restart.
  ASSERT_TRUE(ApplyConfigFile(Write("cf_listen = 0.0.0.0:1\n"), {}).ok());
  std::string path = Write("cf_listen = 0.0.0.0:2\ncf_workers = 16\ncf_log_level = debug\n");
  for (int reload = 1; reload <= 2; ++reload) {
    SCOPED_TRACE(reload);
    auto changes = ReloadConfigFile(path, {}, {"cf_log_level"});
    ASSERT_TRUE(changes.ok()) << changes.status();
    // Still what the server runs with, so the next reload tells it again.
    EXPECT_EQ(absl::GetFlag(FLAGS_cf_listen), "0.0.0.0:1");
    EXPECT_THAT(changes->pending, UnorderedElementsAre("cf_listen"));
    EXPECT_EQ(absl::GetFlag(FLAGS_cf_log_level), LogLevel::kDebug);
    if (reload == 1) {
      EXPECT_THAT(changes->applied, UnorderedElementsAre("cf_log_level"));
    } else {
      EXPECT_TRUE(changes->applied.empty());
    }
  }
  // Back to the value in use: nothing pending.
  auto changes = ReloadConfigFile(Write("cf_listen = 0.0.0.0:1\n"), {}, {"cf_log_level"});
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_TRUE(changes->pending.empty());
  EXPECT_THAT(changes->applied, UnorderedElementsAre("cf_log_level"));
  EXPECT_EQ(absl::GetFlag(FLAGS_cf_log_level), LogLevel::kInfo);
  // A bad value, even in a restart-only flag, changes nothing.
  EXPECT_FALSE(
      ReloadConfigFile(Write("cf_log_level = debug\ncf_workers = x\n"), {}, {"cf_log_level"}).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_cf_log_level), LogLevel::kInfo);
}

TEST_F(ConfigFileTest, AMissingFileIsNamed) {
  auto changed = ApplyConfigFile(dir_.Sub("none.conf"), {});
  ASSERT_FALSE(changed.ok());
  EXPECT_THAT(changed.status().message(), HasSubstr(dir_.Sub("none.conf")));
}

TEST_F(ConfigFileTest, FlagsOnCommandLineFindsEveryForm) {
  std::vector<std::string> args = {"purser-server",
                                   "--cf_listen=1.2.3.4:5",
                                   "-cf_workers",
                                   "9",
                                   "--nocf_drift",
                                   "--config",
                                   "/x.conf",
                                   "--",
                                   "--cf_log_level=debug"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  EXPECT_THAT(FlagsOnCommandLine(static_cast<int>(argv.size()), argv.data()),
              UnorderedElementsAre("cf_listen", "cf_workers", "cf_drift", "config"));
}

}  // namespace
}  // namespace purser::server
