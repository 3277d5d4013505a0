#include "purserctl/output.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
         absl::StrCat(e.clone_suspected() ? "CLONED IDENTITY? " : "", e.state_detail())});
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
      {"agent:", e.agent_version().empty()
                     ? "-"
                     : absl::StrCat(e.agent_version(), " (",
                                    e.agent_arch() == v1::ARCH_X86 ? "x86" : "x64", ")")},
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

namespace {
std::string StateName(v1::CampaignState s) {
  return ShortEnumName(v1::CampaignState_Name(s), "CAMPAIGN_STATE_");
}
}  // namespace

std::string CampaignsTable(const std::vector<v1::Campaign>& campaigns) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "NAME", "PLAN", "STATE", "WAVE", "DONE", "FAILED", "RUNNING", "PENDING", "REASON"}};
  for (const auto& c : campaigns) {
    const auto& k = c.counters();
    rows.push_back({c.id(), c.name(), c.plan_name(), StateName(c.state()),
                    absl::StrCat(c.current_wave()), absl::StrCat(k.done(), "/", k.members()),
                    absl::StrCat(k.failed()), absl::StrCat(k.running()), absl::StrCat(k.pending()),
                    c.state_reason()});
  }
  return FormatTable(rows);
}

std::string CampaignSummary(const v1::Campaign& c) {
  const auto& k = c.counters();
  std::string out = absl::StrCat("campaign ", c.id(), " (", c.name(), "), plan ", c.plan_name(),
                                 ": ", StateName(c.state()), c.state_reason().empty() ? "" : " - ",
                                 c.state_reason(), "\n");
  absl::StrAppend(&out, "  members ", k.members(), ": done ", k.done(), ", running ", k.running(),
                  " (waiting reboot ", k.waiting_reboot(), "), pending ", k.pending(),
                  " (conflicts ", k.conflicts(), "), failed ", k.failed(), " (timed out ",
                  k.timed_out(), "), blocked ", k.blocked(), ", skipped ", k.skipped(),
                  ", cancelled ", k.cancelled(), ", offline ", k.offline(), ", never seen ",
                  k.never_seen(), "\n");
  if (!k.failed_by_class().empty()) {
    std::string classes;
    for (const auto& [cls, n] : k.failed_by_class()) absl::StrAppend(&classes, " ", cls, "=", n);
    absl::StrAppend(&out, "  failed by class:", classes, "\n");
  }
  for (const auto& w : c.waves()) {
    absl::StrAppend(&out, "  ", w.wave() == 0 ? "canary" : absl::StrCat("wave ", w.wave()), ": ",
                    w.done(), "/", w.members(), " done, ", w.failed(), " failed, ", w.running(),
                    " running, ", w.pending(), " pending",
                    w.wave() == c.current_wave() ? "  <-" : "", "\n");
  }
  if (c.eta_unix_ms() > 0) {
    absl::StrAppend(&out, "  eta ",
                    absl::FormatTime("%H:%M:%S UTC", absl::FromUnixMillis(c.eta_unix_ms()),
                                     absl::UTCTimeZone()),
                    "\n");
  }
  return out;
}

std::string CampaignDetail(const v1::GetCampaignResponse& resp) {
  std::string out = CampaignSummary(resp.campaign());
  std::vector<std::vector<std::string>> rows = {{"ENDPOINT", "WAVE", "STATE", "RUN", "REASON"}};
  for (const auto& m : resp.members()) {
    rows.push_back({m.endpoint_id().substr(0, 12), absl::StrCat(m.wave()),
                    ShortEnumName(v1::MemberState_Name(m.state()), "MEMBER_STATE_"), m.run_id(),
                    m.reason()});
  }
  absl::StrAppend(&out, "\n", FormatTable(rows));
  return out;
}

std::string CampaignLine(const v1::Campaign& c) {
  const auto& k = c.counters();
  return absl::StrCat(absl::FormatTime("%H:%M:%S", absl::Now(), absl::UTCTimeZone()), " ",
                      StateName(c.state()), " wave ", c.current_wave(), ": done ", k.done(), "/",
                      k.members(), ", running ", k.running(), " (rebooting ", k.waiting_reboot(),
                      "), pending ", k.pending(), ", failed ", k.failed(), ", offline ",
                      k.offline(), c.state_reason().empty() ? "" : " - ", c.state_reason(), "\n");
}

namespace {
std::string When(int64_t ms) {
  return ms <= 0
             ? "-"
             : absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}
}  // namespace

std::string HistoryTable(const v1::EndpointHistory& h) {
  std::vector<std::vector<std::string>> rows = {{"WHEN (UTC)", "WHAT", "DETAIL"}};
  for (const auto& e : h.entries()) {
    if (e.job_id().empty()) {
      rows.push_back({When(e.at_unix_ms()),
                      ShortEnumName(v1::EndpointState_Name(e.state()), "ENDPOINT_STATE_"),
                      e.detail()});
    } else {
      std::string tail = e.output_tail();
      if (tail.size() > 60) tail = "..." + tail.substr(tail.size() - 57);
      for (char& ch : tail)
        if (ch == '\n') ch = ' ';
      rows.push_back(
          {When(e.at_unix_ms()),
           absl::StrCat("step ", e.job_id().substr(e.job_id().rfind('.') + 1), " attempt ",
                        e.attempt(), ": ",
                        ShortEnumName(v1::StepOutcome_Name(e.outcome()), "STEP_OUTCOME_"), " exit ",
                        e.exit_code(), " in ", e.duration_ms(), " ms",
                        e.applied() ? "" : " (late, not applied)"),
           absl::StrCat(e.detail(), tail.empty() ? "" : " | ", tail)});
    }
  }
  return FormatTable(rows);
}

std::string AuditTable(const v1::ListAuditResponse& a) {
  std::vector<std::vector<std::string>> rows = {
      {"WHEN (UTC)", "WHO", "ROLE", "METHOD", "RESULT", "REQUEST"}};
  for (const auto& e : a.entries()) {
    std::string req = e.request_json();
    for (char& ch : req)
      if (ch == '\n') ch = ' ';
    if (req.size() > 80) req = req.substr(0, 77) + "...";
    rows.push_back({When(e.at_unix_ms()), e.who(), e.role(), e.method(),
                    e.result_code() == 0
                        ? "OK"
                        : absl::StrCat("error ", e.result_code(), ": ", e.result_message()),
                    req});
  }
  return FormatTable(rows);
}

std::string CertificatesTable(const v1::ListCertificatesResponse& c) {
  std::vector<std::vector<std::string>> rows = {
      {"SERIAL", "SUBJECT", "ROLE", "ISSUED", "EXPIRES", "REVOKED"}};
  for (const auto& e : c.certificates()) {
    rows.push_back({e.serial(), e.subject(), e.role(), When(e.issued_unix_ms()),
                    When(e.not_after_unix_ms()), When(e.revoked_unix_ms())});
  }
  return FormatTable(rows);
}

std::string CountsTable(const v1::EndpointCounts& c) {
  std::vector<std::vector<std::string>> rows = {{"STATE", "COUNT"}};
  for (const auto& b : c.by_state()) {
    rows.push_back({ShortEnumName(v1::EndpointState_Name(b.state()), "ENDPOINT_STATE_"),
                    absl::StrCat(b.count())});
  }
  rows.push_back({"TOTAL", absl::StrCat(c.total())});
  return FormatTable(rows);
}

std::string ServerStatsText(const v1::ServerStats& s) {
  return FormatTable({
      {"uptime:", absl::StrCat(s.uptime_ms() / 1000, " s")},
      {"cpu:", absl::StrFormat("%.1f s", s.cpu_seconds())},
      {"memory:", absl::StrFormat("%.1f MiB resident", s.rss_bytes() / 1048576.0)},
      {"threads:", absl::StrCat(s.threads())},
      {"agents waiting:", absl::StrCat(s.parked_long_polls())},
      {"endpoints:", absl::StrCat(s.endpoints())},
      {"sqlite:",
       absl::StrFormat(
           "%d transactions, %.1f writes each", s.sqlite_transactions(),
           s.sqlite_transactions() ? 1.0 * s.sqlite_writes() / s.sqlite_transactions() : 0.0)},
  });
}

}  // namespace purser::ctl
