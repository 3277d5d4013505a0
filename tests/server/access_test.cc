#include "server/access.h"

#include <gtest/gtest.h>

#include "google/protobuf/descriptor.h"
#include "purser/v1/agent.grpc.pb.h"
#include "purser/v1/operator.grpc.pb.h"

namespace purser::server {
namespace {

// A new RPC cannot ship without a role: every method of every service the
// server registers has exactly one rule, and no rule names a method that is
// not served.
TEST(Access, EveryMethodOfEveryServiceHasOneRule) {
  std::set<std::string> served;
  // Each service through a message of its own file, so the file is linked in.
  for (const auto* d :
       {v1::EnrollRequest::descriptor()->file()->FindServiceByName("AgentService"),
        v1::ListEndpointsRequest::descriptor()->file()->FindServiceByName("OperatorService")}) {
    ASSERT_NE(d, nullptr);
    for (int i = 0; i < d->method_count(); ++i) {
      std::string full = "/" + d->full_name() + "/" + d->method(i)->name();
      served.insert(full);
      EXPECT_NE(RuleFor(full), nullptr) << full << " has no access rule";
    }
  }
  for (const auto& [method, rule] : AccessRules()) {
    EXPECT_TRUE(served.count(method)) << method << " has a rule but is not served";
  }
  EXPECT_EQ(served.size(), AccessRules().size());
}

TEST(Access, ChangesAreAuditedAndOnlyEnrollmentGoesWithoutACertificate) {
  for (const auto& [method, rule] : AccessRules()) {
    if (rule.access == Access::kOperator || rule.access == Access::kAdmin) {
      bool read = method.find("/List") != std::string::npos;
      EXPECT_EQ(rule.audited, !read) << method;
    }
    if (rule.access == Access::kEnrollment) {
      EXPECT_EQ(method, AgentMethod("Enroll"));
    }
  }
  EXPECT_EQ(RuleFor("/purser.v1.OperatorService/NoSuchMethod"), nullptr);
}

}  // namespace
}  // namespace purser::server
