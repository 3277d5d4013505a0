#include "server/access.h"

#include "absl/strings/str_cat.h"

namespace purser::server {

std::string FullMethod(absl::string_view service, absl::string_view method) {
  return absl::StrCat("/purser.v1.", service, "/", method);
}

const std::map<std::string, MethodRule, std::less<>>& AccessRules() {
  static const auto* rules = [] {
    auto* r = new std::map<std::string, MethodRule, std::less<>>();
    auto op = [&](const char* m, Access a, bool audited) {
      (*r)[OperatorMethod(m)] = {a, audited};
    };
    auto agent = [&](const char* m, Access a, bool audited) {
      (*r)[AgentMethod(m)] = {a, audited};
    };
    // Reads.
    for (const char* m :
         {"ListEndpoints", "CountEndpoints", "GetEndpoint", "GetEndpointHistory", "GetServerStats",
          "ListPlans", "ListArtifacts", "ListCampaigns", "GetCampaign", "WatchCampaign"}) {
      op(m, Access::kViewer, false);
    }
    // Any operator renews its own certificate: a change to its identity.
    op("RenewOperatorCertificate", Access::kViewer, true);
    for (const char* m : {"StartRun", "AllowReboot", "UploadArtifact", "CreateCampaign",
                          "ActOnCampaign", "SetLabels"}) {
      op(m, Access::kOperator, true);
    }
    for (const char* m : {"CreateEnrollmentToken", "PutSecret", "RotateSecretsKey", "UploadPlan",
                          "IssueOperatorCertificate", "RevokeCertificate"}) {
      op(m, Access::kAdmin, true);
    }
    for (const char* m : {"ListCertificates", "ListAudit"}) op(m, Access::kAdmin, false);
    // An endpoint joining the fleet, or changing its certificate, is audited;
    // its routine calls are not (they are its history).
    agent("Enroll", Access::kEnrollment, true);
    agent("RenewCertificate", Access::kAgent, true);
    for (const char* m : {"CheckIn", "WaitForWork", "ReportResult", "DownloadArtifact"}) {
      agent(m, Access::kAgent, false);
    }
    return r;
  }();
  return *rules;
}

const MethodRule* RuleFor(absl::string_view full_method) {
  const auto& rules = AccessRules();
  auto it = rules.find(full_method);
  return it == rules.end() ? nullptr : &it->second;
}

}  // namespace purser::server
