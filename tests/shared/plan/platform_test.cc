#include "shared/plan/platform.h"

#include <gtest/gtest.h>

namespace purser {
namespace {

const char* TypicalVersion(v1::OsProduct p, int sp) {
  switch (p) {
    case v1::OS_PRODUCT_WINDOWS_7:
    case v1::OS_PRODUCT_WINDOWS_SERVER_2008_R2:
      return sp >= 1 ? "6.1.7601" : "6.1.7600";
    case v1::OS_PRODUCT_WINDOWS_8_1:
      return "6.3.9600";
    case v1::OS_PRODUCT_WINDOWS_10:
      return "10.0.19045";
    default:
      return "5.10.0";
  }
}

v1::OsFacts Os(v1::OsProduct p, int sp, const char* edition, v1::Arch arch = v1::ARCH_X64) {
  v1::OsFacts os;
  os.set_product(p);
  os.set_version(TypicalVersion(p, sp));
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

// The product an agent reports is checked against its version, product type
// and service pack: an inconsistent claim gets nothing installed.
TEST(Platform, TheReportedProductMustAgreeWithVersionTypeAndServicePack) {
  auto os = [](v1::OsProduct p, const char* version, v1::ProductType type, int sp) {
    v1::OsFacts o =
        Os(p, sp, p == v1::OS_PRODUCT_WINDOWS_SERVER_2008_R2 ? "Standard" : "Enterprise");
    o.set_version(version);
    o.set_product_type(type);
    return o;
  };
  using v1::PRODUCT_TYPE_SERVER;
  using v1::PRODUCT_TYPE_UNSPECIFIED;
  using v1::PRODUCT_TYPE_WORKSTATION;
  struct Case {
    v1::OsFacts os;
    std::string reason;  // substring; "" when supported
  } cases[] = {
      {os(v1::OS_PRODUCT_WINDOWS_7, "6.1.7601", PRODUCT_TYPE_WORKSTATION, 1), ""},
      {os(v1::OS_PRODUCT_WINDOWS_7, "6.1.7601", PRODUCT_TYPE_UNSPECIFIED, 1), ""},
      {os(v1::OS_PRODUCT_WINDOWS_8_1, "6.3.9600", PRODUCT_TYPE_WORKSTATION, 0), ""},
      {os(v1::OS_PRODUCT_WINDOWS_SERVER_2008_R2, "6.1.7601", PRODUCT_TYPE_SERVER, 1), ""},
      {os(v1::OS_PRODUCT_WINDOWS_8_1, "6.2.9200", PRODUCT_TYPE_WORKSTATION, 0),
       "reports Windows 8.1 but its version 6.2.9200 (WORKSTATION) is Windows 8"},
      {os(v1::OS_PRODUCT_WINDOWS_SERVER_2008_R2, "6.0.6002", PRODUCT_TYPE_SERVER, 2),
       "is Windows Server 2008"},
      {os(v1::OS_PRODUCT_WINDOWS_SERVER_2008_R2, "6.1.7601", PRODUCT_TYPE_WORKSTATION, 1),
       "is Windows 7"},
      {os(v1::OS_PRODUCT_WINDOWS_7, "6.1.7600", PRODUCT_TYPE_WORKSTATION, 1),
       "build 7600 is without a service pack"},
      {os(v1::OS_PRODUCT_WINDOWS_7, "", PRODUCT_TYPE_WORKSTATION, 1), "not a Windows version"},
      {os(v1::OS_PRODUCT_WINDOWS_8, "6.2.9200", PRODUCT_TYPE_WORKSTATION, 0), "Windows 8 is not"},
      {os(v1::OS_PRODUCT_WINDOWS_SERVER_2012_R2, "6.3.9600", PRODUCT_TYPE_SERVER, 0),
       "Windows Server 2012 R2 is onboarded"},
      {os(v1::OS_PRODUCT_WINDOWS_SERVER_2008, "6.0.6002", PRODUCT_TYPE_SERVER, 2),
       "Windows Server 2008 is not supported"},
  };
  for (const auto& c : cases) {
    std::string reason = UnsupportedReason(c.os);
    if (c.reason.empty()) {
      EXPECT_EQ(reason, "") << c.os.ShortDebugString();
    } else {
      EXPECT_NE(reason.find(c.reason), std::string::npos)
          << reason << " / " << c.os.ShortDebugString();
    }
  }
  v1::Platform p;
  p.set_product(v1::OS_PRODUCT_WINDOWS_8_1);
  EXPECT_FALSE(PlatformMatches(p, cases[4].os)) << "a Windows 8 machine claiming 8.1 gets no step";
  EXPECT_EQ(OsDisplayName(cases[9].os), "Windows 8 Enterprise x64");
}

// Regional and media-centre editions are the editions they vary.
TEST(Platform, EditionVariantsCountAsTheirBase) {
  for (const char* e :
       {"ProfessionalN", "EnterpriseN", "EnterpriseE", "ProfessionalWMC", "enterprise"}) {
    v1::OsFacts os = Os(v1::OS_PRODUCT_WINDOWS_8_1, 0, e);
    EXPECT_TRUE(IsSupportedOs(os)) << e << ": " << UnsupportedReason(os);
    v1::Platform p;
    p.set_product(v1::OS_PRODUCT_WINDOWS_8_1);
    p.add_editions(std::string(e).rfind("Pro", 0) == 0 ? "Professional" : "Enterprise");
    EXPECT_TRUE(PlatformMatches(p, os)) << e;
  }
  EXPECT_FALSE(IsSupportedOs(Os(v1::OS_PRODUCT_WINDOWS_7, 1, "HomePremiumN")));
}

// A plan is previewed on an OS named in a few letters; a wrong part is named.
TEST(Platform, ShortOsNamesGiveTheirFacts) {
  auto win7 = ParseOsName("win7-sp1-x86-pro");
  ASSERT_TRUE(win7.ok()) << win7.status();
  EXPECT_EQ(OsDisplayName(*win7), "Windows 7 SP1 Professional x86");
  EXPECT_TRUE(IsSupportedOs(*win7)) << UnsupportedReason(*win7);
  auto server = ParseOsName("win2008r2-sp1-x64");
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(server->edition(), "Standard");
  EXPECT_EQ(server->product_type(), v1::PRODUCT_TYPE_SERVER);
  EXPECT_TRUE(IsSupportedOs(*server)) << UnsupportedReason(*server);
  auto rtm = ParseOsName("win7-x64");
  ASSERT_TRUE(rtm.ok());
  EXPECT_FALSE(IsSupportedOs(*rtm)) << "Windows 7 without SP1";
  EXPECT_EQ(InconsistencyOf(*ParseOsName("win81-x64-ent")), "");
  EXPECT_NE(ParseOsName("win95-x86").status().message().find("\"win95\""), std::string::npos);
  EXPECT_NE(ParseOsName("win7-sp1").status().message().find("architecture"), std::string::npos);
  EXPECT_NE(ParseOsName("win7-sp1-x64-gold").status().message().find("\"gold\""),
            std::string::npos);
  EXPECT_FALSE(ParseOsName("win81-sp1-x64").ok());
}

}  // namespace
}  // namespace purser
