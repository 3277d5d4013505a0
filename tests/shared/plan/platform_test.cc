#include "shared/plan/platform.h"

#include <gtest/gtest.h>

namespace purser {
namespace {

v1::OsFacts Os(v1::OsProduct p, int sp, const char* edition, v1::Arch arch = v1::ARCH_X64) {
  v1::OsFacts os;
  os.set_product(p);
  os.set_service_pack(sp);
  os.set_edition(edition);
  os.set_arch(arch);
  return os;
}

TEST(Platform, SupportedOnlyAsTheGuideSays) {
  EXPECT_TRUE(IsSupportedOs(Os(v1::OS_PRODUCT_WINDOWS_7, 1, "Enterprise")));
  EXPECT_TRUE(IsSupportedOs(Os(v1::OS_PRODUCT_WINDOWS_7, 1, "Professional", v1::ARCH_X86)));
  EXPECT_TRUE(IsSupportedOs(Os(v1::OS_PRODUCT_WINDOWS_8_1, 0, "Pro")));
  EXPECT_TRUE(IsSupportedOs(Os(v1::OS_PRODUCT_WINDOWS_SERVER_2008_R2, 1, "Datacenter")));
  EXPECT_NE(UnsupportedReason(Os(v1::OS_PRODUCT_WINDOWS_7, 0, "Enterprise")).find("Service Pack 1"),
            std::string::npos);
  EXPECT_NE(UnsupportedReason(Os(v1::OS_PRODUCT_WINDOWS_7, 1, "Home Premium")).find("Home Premium"),
            std::string::npos);
  EXPECT_FALSE(IsSupportedOs(Os(v1::OS_PRODUCT_WINDOWS_SERVER_2008_R2, 0, "Standard")));
  EXPECT_FALSE(IsSupportedOs(Os(v1::OS_PRODUCT_WINDOWS_10, 0, "Enterprise")));
  EXPECT_FALSE(IsSupportedOs(Os(v1::OS_PRODUCT_LINUX, 0, "")));
}

TEST(Platform, MatchesProductEditionSpAndArch) {
  v1::Platform p;
  p.set_product(v1::OS_PRODUCT_WINDOWS_7);
  p.set_min_service_pack(1);
  p.set_arch(v1::ARCH_X86);
  p.add_editions("Enterprise");
  EXPECT_TRUE(PlatformMatches(p, Os(v1::OS_PRODUCT_WINDOWS_7, 1, "enterprise", v1::ARCH_X86)));
  EXPECT_FALSE(PlatformMatches(p, Os(v1::OS_PRODUCT_WINDOWS_7, 1, "Enterprise", v1::ARCH_X64)));
  EXPECT_FALSE(PlatformMatches(p, Os(v1::OS_PRODUCT_WINDOWS_7, 0, "Enterprise", v1::ARCH_X86)));
  EXPECT_FALSE(PlatformMatches(p, Os(v1::OS_PRODUCT_WINDOWS_7, 1, "Professional", v1::ARCH_X86)));
  EXPECT_FALSE(PlatformMatches(p, Os(v1::OS_PRODUCT_WINDOWS_8_1, 1, "Enterprise", v1::ARCH_X86)));
}

}  // namespace
}  // namespace purser
