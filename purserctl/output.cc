#include "purserctl/output.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "shared/plan/platform.h"

namespace purser::ctl {

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, opts);
  return out;
}

std::string Ago(int64_t unix_ms, int64_t now_ms) {
  if (unix_ms <= 0) return "never";
  int64_t s = std::max<int64_t>(0, (now_ms - unix_ms) / 1000);
  if (s < 60) return absl::StrCat(s, "s ago");
  if (s < 3600) return absl::StrCat(s / 60, "m ago");
  if (s < 86400) return absl::StrCat(s / 3600, "h ago");
  return absl::StrCat(s / 86400, "d ago");
}

std::string EndpointsTable(const std::vector<v1::Endpoint>& endpoints) {
  int64_t now = absl::ToUnixMillis(absl::Now());
  std::vector<std::vector<std::string>> rows = {
      {"ID", "HOSTNAME", "OS", "STATE", "STEP", "SEEN", "DETAIL"}};
  for (const auto& e : endpoints) {
    std::string step =
        e.step_count() > 0 ? absl::StrCat(e.current_step(), "/", e.step_count()) : "-";
    rows.push_back(
        {e.id().substr(0, 12), e.hostname(), OsDisplayName(e.os()),
         ShortEnumName(v1::EndpointState_Name(e.state()), "ENDPOINT_STATE_"), step,
         absl::StrCat(e.online() ? "online " : "offline ", Ago(e.last_seen_unix_ms(), now)),
         e.state_detail()});
  }
  return FormatTable(rows);
}

std::string EndpointDetail(const v1::GetEndpointResponse& resp) {
  const v1::Endpoint& e = resp.endpoint();
  int64_t now = absl::ToUnixMillis(absl::Now());
  std::string labels;
  for (const auto& [k, v] : e.labels())
    absl::StrAppend(&labels, labels.empty() ? "" : ",", k, "=", v);
  std::string out = FormatTable({
      {"id:", e.id()},
      {"hostname:", e.hostname()},
      {"os:", OsDisplayName(e.os())},
      {"state:", ShortEnumName(v1::EndpointState_Name(e.state()), "ENDPOINT_STATE_")},
      {"detail:", e.state_detail()},
      {"plan:",
       e.plan_name().empty() ? "-" : absl::StrCat(e.plan_name(), " (run ", e.run_id(), ")")},
      {"step:", absl::StrCat(e.current_step(), "/", e.step_count(), " ", e.current_step_id())},
      {"seen:",
       absl::StrCat(e.online() ? "online, " : "offline, ", Ago(e.last_seen_unix_ms(), now))},
      {"kbs:", absl::StrJoin(e.installed_kbs(), " ")},
      {".net:", e.dotnet_version()},
      {"labels:", labels},
      {"certificate:", e.cert_serial()},
  });
  if (resp.jobs_size() > 0) {
    std::vector<std::vector<std::string>> rows = {
        {"SEQ", "STEP", "KIND", "STATE", "ATTEMPT", "EXIT", "MESSAGE"}};
    for (const auto& j : resp.jobs()) {
      rows.push_back({absl::StrCat(j.seq()), j.step_id(),
                      ShortEnumName(v1::StepKind_Name(j.kind()), "STEP_KIND_"),
                      ShortEnumName(v1::JobState_Name(j.state()), "JOB_STATE_"),
                      absl::StrCat(j.attempt(), "/", j.max_attempts(),
                                   j.timed_out_attempts()
                                       ? absl::StrCat(" (", j.timed_out_attempts(), " timed out)")
                                       : ""),
                      absl::StrCat(j.exit_code()), j.message()});
    }
    absl::StrAppend(&out, "\n", FormatTable(rows));
  }
  return out;
}

}  // namespace purser::ctl
