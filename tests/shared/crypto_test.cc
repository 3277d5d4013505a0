#include "shared/crypto.h"

#include <gtest/gtest.h>

#include "shared/files.h"
#include "tests/test_util.h"

namespace purser {
namespace {

TEST(Crypto, Sha256KnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, SealOpensOnlyWithItsKeyAndContext) {
  std::string key = RandomBytes(32);
  auto sealed = Seal(key, "workspace-key-value", "mde-key");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->find("workspace-key-value"), std::string::npos);
  auto opened = Open(key, *sealed, "mde-key");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, "workspace-key-value");
  EXPECT_FALSE(Open(key, *sealed, "other-name").ok());
  EXPECT_FALSE(Open(RandomBytes(32), *sealed, "mde-key").ok());
  std::string tampered = *sealed;
  tampered[14] ^= 1;
  EXPECT_EQ(Open(key, tampered, "mde-key").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(Seal("short", "x", "").ok());
}

TEST(Crypto, SealIsRandomised) {
  std::string key = RandomBytes(32);
  EXPECT_NE(*Seal(key, "same", ""), *Seal(key, "same", ""));
}

// Files are hashed a block at a time, to the same digest as in memory.
TEST(Crypto, Sha256OfAFileMatchesInMemory) {
  testing::ScratchDir dir;
  std::string data;
  for (int i = 0; i < 200000; ++i) data += static_cast<char>(i * 7);
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("f"), data).ok());
  EXPECT_EQ(*Sha256HexOfFile(dir.Sub("f")), Sha256Hex(data));
  EXPECT_EQ(Sha256HexOfFile(dir.Sub("none")).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace purser
