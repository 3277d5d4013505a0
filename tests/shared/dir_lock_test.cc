#include "shared/dir_lock.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace purser {
namespace {

TEST(DirLock, OneHolderAtATime) {
  testing::ScratchDir dir;
  auto first = DirLock::Acquire(dir.path());
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = DirLock::Acquire(dir.path());  // a second open file: flock refuses it too
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find(dir.path() + " is in use"), std::string::npos)
      << second.status();
  first->reset();
  EXPECT_TRUE(DirLock::Acquire(dir.path()).ok());
}

TEST(DirLock, MissingDirectoryIsNamed) {
  testing::ScratchDir dir;
  auto lock = DirLock::Acquire(dir.Sub("absent"));
  EXPECT_FALSE(lock.ok());
  EXPECT_NE(lock.status().message().find(dir.Sub("absent")), std::string::npos);
}

}  // namespace
}  // namespace purser
