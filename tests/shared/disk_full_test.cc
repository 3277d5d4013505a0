#include "shared/disk_full.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace purser {
namespace {

int Lines(const std::string& log, const std::string& needle) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) n += line.find(needle) != line.npos;
  return n;
}

TEST(DiskFull, StatusNamesTheDirectory) {
  absl::Status st = DiskFullError("/var/lib/purser", "database or disk is full");
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(st.message(), "disk full: /var/lib/purser (database or disk is full)");
  EXPECT_TRUE(IsDiskFull(st));
  EXPECT_TRUE(IsDiskFull(absl::ResourceExhaustedError(absl::StrCat("audit: ", st.message()))));
  EXPECT_FALSE(IsDiskFull(absl::ResourceExhaustedError("server busy")));
  EXPECT_EQ(DirOf("/var/lib/purser/purser.db"), "/var/lib/purser");
  EXPECT_EQ(DirOf("purser.db"), ".");
}

TEST(DiskFull, LogsOnceThenRemindsAtMostEveryMinuteThenRecovery) {
  FakeClock clock(1'000'000);
  DiskFullLog log("/data", &clock);
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 500; ++i) {
    log.Refused();
    clock.AdvanceMs(100);  // 50 s of refused writes
  }
  EXPECT_TRUE(log.full());
  clock.AdvanceMs(15'000);
  log.Refused();  // past the minute: one reminder
  log.Refused();
  log.Succeeded();
  log.Succeeded();
  EXPECT_FALSE(log.full());
  std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(Lines(out, "disk full: /data: writes are refused"), 1) << out;
  EXPECT_EQ(Lines(out, "disk full: /data: still full, 500 writes refused"), 1) << out;
  EXPECT_EQ(Lines(out, "disk space is back on /data"), 1) << out;
  EXPECT_EQ(Lines(out, "disk"), 3) << out;
}

TEST(DiskFull, AFlappingDiskIsNotAnnouncedEveryFlap) {
  FakeClock clock(1'000'000);
  DiskFullLog log("/data", &clock);
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 100; ++i) {
    log.Refused();
    log.Succeeded();
    clock.AdvanceMs(100);
  }
  std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(Lines(out, "disk full: /data"), 1) << out;
  EXPECT_EQ(Lines(out, "disk space is back"), 1) << out;
}

}  // namespace
}  // namespace purser
