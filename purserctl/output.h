// purserctl output: aligned tables for people, protobuf JSON for scripts.
#pragma once
#include <string>
#include <vector>

#include "google/protobuf/message.h"
#include "purser/v1/operator.pb.h"

namespace purser::ctl {

// Columns padded to their widest cell; the first row is the header.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);
// The protobuf JSON mapping, one object, pretty-printed.
std::string ToJson(const google::protobuf::Message& message);
std::string EndpointsTable(const std::vector<v1::Endpoint>& endpoints);
std::string EndpointDetail(const v1::GetEndpointResponse& resp);
std::string CampaignsTable(const std::vector<v1::Campaign>& campaigns);
// State, reason, counters, waves and ETA in a few lines.
std::string CampaignSummary(const v1::Campaign& c);
std::string CampaignDetail(const v1::GetCampaignResponse& resp);
std::string HistoryTable(const v1::EndpointHistory& h);
std::string AuditTable(const v1::ListAuditResponse& a);
// STATE / COUNT rows and the total.
std::string CountsTable(const v1::EndpointCounts& c);
std::string ServerStatsText(const v1::ServerStats& s);
std::string CertificatesTable(const v1::ListCertificatesResponse& c);
// One line of progress, for logs and pipes.
std::string CampaignLine(const v1::Campaign& c);
// "2m ago", "never".
std::string Ago(int64_t unix_ms, int64_t now_ms);

}  // namespace purser::ctl
