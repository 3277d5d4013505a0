#include "shared/plan/plan_loader.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "shared/files.h"
#include "tests/test_util.h"

namespace purser {
namespace {

constexpr char kHeader[] = R"(name: "p"
purpose: PLAN_PURPOSE_ONBOARD
params { name: "workspace_id" }
params { name: "workspace_key" secret: true }
artifacts { name: "a.msu" }
)";

// Parses kHeader + `steps`; returns the error text ("" when valid).
std::string ErrorOf(const std::string& steps) {
  auto plan = ParsePlan(absl::StrCat(kHeader, steps), "bad.textproto");
  return plan.ok() ? "" : std::string(plan.status().message());
}

TEST(PlanLoader, DefaultPlansAreValid) {
  auto plans = LoadPlanDir(PURSER_PLANS_DIR);
  ASSERT_TRUE(plans.ok()) << plans.status();
  EXPECT_EQ(plans->count("mde-downlevel-onboard"), 1u);
  EXPECT_EQ(plans->count("mde-downlevel-offboard"), 1u);
}

TEST(PlanLoader, ErrorsNameFileLineAndField) {
  struct Case {
    const char* what;
    std::string steps;
    std::string expected;  // substring
  };
  const std::string platform = "  platforms { product: OS_PRODUCT_WINDOWS_7 }\n";
  std::vector<Case> cases = {
      {"unknown action", "steps {\n  id: \"s\"\n  install_foo { }\n}\n",
       "bad.textproto:8:15: steps[0].install_foo: Message type \"purser.v1.Step\" has no field "
       "named \"install_foo\""},
      {"no action", "steps {\n  id: \"s\"\n  kind: STEP_KIND_PATCH\n" + platform + "}\n",
       "bad.textproto:6: steps[0]: a step needs exactly one action"},
      {"no platform",
       "steps {\n  id: \"s\"\n  kind: STEP_KIND_VERIFY\n  check_file { path: \"x\" }\n}\n",
       "bad.textproto:6: steps[0].platforms: a step needs at least one platform"},
      {"unknown artifact",
       "steps {\n  id: \"s\"\n  kind: STEP_KIND_PATCH\n" + platform +
           "  artifacts: \"a.msu\"\n  install_update {\n    kb: \"KB1\"\n    package: \"b.msu\"\n  "
           "}\n}\n",
       "bad.textproto:13: steps[0].install_update.package: unknown artifact \"b.msu\""},
      {"secret as plain parameter",
       "steps {\n  id: \"s\"\n  kind: STEP_KIND_CONFIGURE\n" + platform +
           "  set_proxy { target: TARGET_WINHTTP proxy: \"${workspace_key}\" }\n}\n",
       "steps[0].set_proxy.proxy: \"workspace_key\" is a secret"},
      {"secret outside installer args",
       "steps {\n  id: \"s\"\n  kind: STEP_KIND_CONFIGURE\n" + platform +
           "  set_proxy { target: TARGET_WINHTTP proxy: \"${secret:workspace_key}\" }\n}\n",
       "secret \"workspace_key\" used as a plain parameter"},
      {"unknown parameter",
       "steps {\n  id: \"s\"\n  kind: STEP_KIND_VERIFY\n" + platform +
           "  check_connectivity { urls: \"${nope}\" }\n}\n",
       "steps[0].check_connectivity.urls[0]: unknown parameter \"nope\""},
      {"duplicated step id",
       "steps {\n  id: \"s\"\n  kind: STEP_KIND_VERIFY\n" + platform +
           "  check_file { path: \"x\" }\n}\nsteps {\n  id: \"s\"\n  kind: STEP_KIND_VERIFY\n" +
           platform + "  check_file { path: \"x\" }\n}\n",
       "bad.textproto:13: steps[1].id: duplicated step id \"s\""},
      {"missing kind", "steps {\n  id: \"s\"\n" + platform + "  check_file { path: \"x\" }\n}\n",
       "steps[0].kind: is required"},
  };
  for (const auto& c : cases) {
    std::string err = ErrorOf(c.steps);
    EXPECT_NE(err.find(c.expected), std::string::npos)
        << c.what << "\n  got: " << err << "\n  want: " << c.expected;
  }
}

TEST(PlanLoader, JsonPlansAreAccepted) {
  auto plan = ParsePlan(R"({"name": "j", "purpose": "PLAN_PURPOSE_OFFBOARD",
    "steps": [{"id": "s", "kind": "STEP_KIND_OFFBOARD",
               "platforms": [{"product": "OS_PRODUCT_WINDOWS_8_1"}],
               "uninstallPackage": {"product": "Microsoft Monitoring Agent"}}]})",
                        "plan.json");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->steps(0).uninstall_package().product(), "Microsoft Monitoring Agent");
  auto bad = ParsePlan(R"({"name": "j", "stepz": []})", "plan.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("plan.json"), std::string::npos);
}

// What protobuf's own parser reports gets the field path; what it would
// accept and only log (bad UTF-8) or what cannot travel (too big) is refused
// here, naming the file.
TEST(PlanLoader, ParseErrorsNameTheFieldPathAndBadTextIsRefused) {
  std::string plan = absl::StrCat(kHeader,
                                  "steps { id: \"a\" }\nsteps {\n  id: \"b\"\n"
                                  "  timeout_seconds: \"soon\"\n}\n");
  auto bad_int = ParsePlan(plan, "bad.textproto");
  ASSERT_FALSE(bad_int.ok());
  EXPECT_NE(bad_int.status().message().find("bad.textproto:9:20: steps[1].timeout_seconds: "),
            std::string::npos)
      << bad_int.status();
  auto nested =
      ParsePlan(absl::StrCat(kHeader, "steps {\n  id: \"c\"\n  skip_if { kb_installed: 5 }\n}\n"),
                "bad.textproto");
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.status().message().find("steps[0].skip_if.kb_installed"), std::string::npos)
      << nested.status();

  std::string utf8 = absl::StrCat(kHeader, "description: \"caf\xc3\xa9 \xff\"\n");
  auto bad_utf8 = ParsePlan(utf8, "utf8.textproto");
  ASSERT_FALSE(bad_utf8.ok());
  EXPECT_NE(bad_utf8.status().message().find("utf8.textproto:6: not valid UTF-8"),
            std::string::npos)
      << bad_utf8.status();
  EXPECT_TRUE(ParsePlan(absl::StrCat(kHeader, "description: \"caf\xc3\xa9\"\n"), "ok.textproto")
                  .status()
                  .message()
                  .find("UTF-8") == std::string::npos);

  std::string big = absl::StrCat(kHeader, "description: \"", std::string(600 * 1024, 'x'), "\"\n");
  auto too_big = ParsePlan(big, "big.textproto");
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.status().message().find("big.textproto: "), std::string::npos)
      << too_big.status().message().substr(0, 200);
  EXPECT_NE(too_big.status().message().find("at most"), std::string::npos);
  EXPECT_EQ(InvalidUtf8At("\xed\xa0\x80"), 0u);  // a surrogate
  EXPECT_EQ(InvalidUtf8At("ok\xe2\x82"), 2u);    // cut short
  EXPECT_EQ(InvalidUtf8At("\xf0\x9f\x98\x80"), std::string::npos);
}

// A re-upload interrupted between writing <name>.json and removing the
// older file must not stop the next start; a hand-placed file of that name
// holding another plan is never overwritten.
TEST(PlanLoader, ThePlanFileNamedAfterThePlanWins) {
  testing::ScratchDir dir;
  auto plan = [](const std::string& name, const std::string& description) {
    return absl::StrCat("name: \"", name, "\" purpose: PLAN_PURPOSE_ONBOARD description: \"",
                        description,
                        "\" steps { id: \"c\" kind: STEP_KIND_VERIFY platforms { "
                        "product: OS_PRODUCT_WINDOWS_7 } check_file { path: \"x\" } }");
  };
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("old-copy.textproto"), plan("p", "old")).ok());
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("p.textproto"), plan("p", "new")).ok());
  auto plans = LoadPlanDir(dir.path());
  ASSERT_TRUE(plans.ok()) << plans.status();
  EXPECT_EQ(plans->at("p").description(), "new");
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("q.textproto"), plan("other", "hand-placed")).ok());
  auto st = SavePlanFile(dir.path(), "q", false, plan("q", "uploaded"));
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("a.textproto"), plan("dup", "1")).ok());
  ASSERT_TRUE(WriteFileAtomic(dir.Sub("b.textproto"), plan("dup", "2")).ok());
  EXPECT_NE(LoadPlanDir(dir.path()).status().message().find("defined twice"), std::string::npos);
}

}  // namespace
}  // namespace purser
