#include "shared/plan/effective_plan.h"

#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "shared/plan/plan_loader.h"
#include "shared/plan/platform.h"

namespace purser {
namespace {

// The effective step ids of the default plan on an OS ("win7-sp1-x64-ent").
std::string Steps(const std::string& profile, std::map<std::string, std::string> params = {}) {
  auto plan = LoadPlanFile(std::string(PURSER_PLANS_DIR) + "/mde-downlevel-onboard.textproto");
  EXPECT_TRUE(plan.ok()) << plan.status();
  params.emplace("workspace_id", "w");
  params.emplace("workspace_key", "k");
  auto resolved = ResolveParams(*plan, params);
  EXPECT_TRUE(resolved.ok()) << resolved.status();
  auto os = ParseOsName(profile);
  EXPECT_TRUE(os.ok()) << os.status();
  std::vector<std::string> ids;
  for (int i : EffectiveSteps(*plan, *os, *resolved)) {
    ids.push_back(plan->steps(i).id());
  }
  return absl::StrJoin(ids, " ");
}

// Golden: the guide's per-OS prerequisites, in order, for each platform.
TEST(EffectivePlan, Windows7x64) {
  EXPECT_EQ(Steps("win7-sp1-x64-ent"),
            "kb4074598-x64 kb3080149-nt61-x64 tls-kb3154518-x64 require-tls-support "
            "ssu-kb4490628-x64 sha2-kb4474419-x64 install-mma-x64 mma-add-workspace "
            "verify-connectivity verify-workspace verify-sense report-windefend");
}

TEST(EffectivePlan, Windows7x86) {
  EXPECT_EQ(Steps("win7-sp1-x86-pro"),
            "kb4074598-x86 kb3080149-nt61-x86 tls-kb3154518-x86 require-tls-support "
            "ssu-kb4490628-x86 sha2-kb4474419-x86 install-mma-x86 mma-add-workspace "
            "verify-connectivity verify-workspace verify-sense report-windefend");
}

TEST(EffectivePlan, Server2008R2) {
  EXPECT_EQ(Steps("win2008r2-sp1-x64"), Steps("win7-sp1-x64-ent"));
}

TEST(EffectivePlan, Windows81) {
  EXPECT_EQ(Steps("win81-x64-ent"),
            "kb3080149-nt63-x64 install-mma-x64 mma-add-workspace verify-connectivity "
            "verify-workspace verify-sense report-windefend");
  EXPECT_EQ(Steps("win81-x86-pro"),
            "kb3080149-nt63-x86 install-mma-x86 mma-add-workspace verify-connectivity "
            "verify-workspace verify-sense report-windefend");
}

TEST(EffectivePlan, UnsupportedOsGetsNothing) { EXPECT_EQ(Steps("win10-x64-ent"), ""); }

TEST(EffectivePlan, ScepAndProxyBranchesFollowParameters) {
  std::string s = Steps("win81-x64-ent",
                        {{"scep", "true"}, {"set_winhttp_proxy", "true"}, {"proxy", "p:8080"}});
  EXPECT_EQ(s,
            "kb3080149-nt63-x64 scep-kb3209361-x64 scep-cloud-protection-advanced proxy-winhttp "
            "install-mma-x64 mma-add-workspace verify-connectivity verify-workspace verify-sense "
            "report-windefend");
}

TEST(EffectivePlan, ParametersAreChecked) {
  v1::Plan plan;
  auto* p = plan.add_params();
  p->set_name("need");
  p->set_required(true);
  auto* d = plan.add_params();
  d->set_name("opt");
  d->set_default_value("x");
  EXPECT_NE(ResolveParams(plan, {}).status().message().find("need"), std::string::npos);
  EXPECT_NE(ResolveParams(plan, {{"need", "1"}, {"bogus", "2"}}).status().message().find("bogus"),
            std::string::npos);
  auto ok = ResolveParams(plan, {{"need", "1"}});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->at("opt"), "x");
}

TEST(EffectivePlan, ExpandRefs) {
  std::map<std::string, std::string> params = {{"id", "W1"}, {"secret:key", "K"}};
  EXPECT_EQ(*ExpandRefs("ID=${id} KEY=${secret:key}", params), "ID=W1 KEY=K");
  auto missing = ExpandRefs("${nope}", params);
  EXPECT_FALSE(missing.ok());
  EXPECT_FALSE(ExpandRefs("${open", params).ok());
}

}  // namespace
}  // namespace purser
