#include "client/journal.h"

#include <gtest/gtest.h>

#include "shared/files.h"
#include "tests/test_util.h"

namespace purser::client {
namespace {

TEST(Journal, RoundTripsAndClears) {
  testing::ScratchDir dir;
  JournalFile j(dir.Sub("journal"));
  EXPECT_EQ(j.Load()->phase(), v1::Journal::PHASE_UNSPECIFIED);
  v1::Journal entry;
  entry.set_job_id("job-1");
  entry.set_attempt(2);
  entry.set_phase(v1::Journal::PHASE_DONE);
  entry.mutable_result()->set_exit_code(3010);
  ASSERT_TRUE(j.Save(entry).ok());
  auto loaded = j.Load();
  EXPECT_EQ(loaded->job_id(), "job-1");
  EXPECT_EQ(loaded->result().exit_code(), 3010);
  ASSERT_TRUE(j.Clear().ok());
  EXPECT_EQ(j.Load()->job_id(), "");
  ASSERT_TRUE(j.Clear().ok());
}

TEST(Journal, CorruptionIsReported) {
  testing::ScratchDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("journal"), "\xff\xff\xff\xff garbage").ok());
  EXPECT_EQ(JournalFile(dir.Sub("journal")).Load().status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace purser::client
