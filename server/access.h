// Who may call what: the one table of method -> role for every RPC the
// server serves, and whether its calls go to the audit log. A method without
// a rule is refused; a test walks every service so none can ship without one.
#pragma once
#include <functional>
#include <map>
#include <string>

#include "absl/strings/string_view.h"

namespace purser::server {

enum class Access {
  kEnrollment,  // no certificate: an enrollment token instead
  kAgent,       // an agent certificate, for its own endpoint
  kViewer,      // an operator certificate of this role or above
  kOperator,
  kAdmin,
};

struct MethodRule {
  Access access;
  // Every call is audited (changes, and what a peer does to its identity);
  // refusals of any method are audited regardless.
  bool audited;
};

// By full name, "/purser.v1.OperatorService/ListEndpoints".
const std::map<std::string, MethodRule, std::less<>>& AccessRules();
// The rule for a method, or nullptr when nobody wrote one.
const MethodRule* RuleFor(absl::string_view full_method);
// "/purser.v1.<service>/<method>"
std::string FullMethod(absl::string_view service, absl::string_view method);
inline std::string OperatorMethod(absl::string_view m) { return FullMethod("OperatorService", m); }
inline std::string AgentMethod(absl::string_view m) { return FullMethod("AgentService", m); }

}  // namespace purser::server
