#include "shared/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/test_util.h"

namespace purser {
namespace {

TEST(Files, AtomicWriteKeepsModeAndContent) {
  testing::ScratchDir dir;
  std::string path = dir.Sub("a/b/secret");
  ASSERT_TRUE(MakeDirs(dir.Sub("a/b"), 0700).ok());
  ASSERT_TRUE(WriteFileAtomic(path, "one", 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(path, "two", 0600).ok());
  EXPECT_EQ(*ReadFile(path), "two");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Files, MissingFileErrorNamesThePath) {
  auto r = ReadFile("/nonexistent/purser/file");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/purser/file"), std::string::npos);
}

}  // namespace
}  // namespace purser
