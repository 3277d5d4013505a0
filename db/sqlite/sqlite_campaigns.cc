// Campaigns and their members.
#include "absl/strings/str_cat.h"
#include "db/sqlite/rows.h"
#include "db/sqlite/sqlite_store.h"
#include "shared/status_macros.h"

namespace purser::db {

using namespace sqlite;  // NOLINT: the shared row helpers

namespace {

absl::Status SaveMembers(Connection& c, const std::string& campaign_id,
                         const std::vector<v1::CampaignMember>& members) {
  ASSIGN_OR_RETURN(Stmt s,
                   c.Prepare("INSERT INTO campaign_members(campaign_id, endpoint_id, wave, "
                             "state, run_id, reason, error_class, started_ms) VALUES "
                             "(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(campaign_id, endpoint_id) DO "
                             "UPDATE SET wave = excluded.wave, state = excluded.state, "
                             "run_id = excluded.run_id, reason = excluded.reason, "
                             "error_class = excluded.error_class, "
                             "started_ms = excluded.started_ms"));
  for (const auto& m : members) {
    RETURN_IF_ERROR(s.Bind(1, campaign_id)
                        .Bind(2, m.endpoint_id())
                        .Bind(3, m.wave())
                        .Bind(4, m.state())
                        .Bind(5, m.run_id())
                        .Bind(6, m.reason())
                        .Bind(7, m.error_class())
                        .Bind(8, m.started_unix_ms())
                        .Exec());
  }
  return absl::OkStatus();
}

v1::Campaign Spec(const v1::Campaign& c) {
  v1::Campaign spec = c;
  spec.clear_counters();
  spec.clear_waves();
  spec.clear_state();
  spec.clear_state_reason();
  spec.clear_current_wave();
  spec.clear_eta_unix_ms();
  spec.clear_acknowledged_failures();
  return spec;
}

}  // namespace

absl::Status SqliteStore::CreateCampaign(const v1::Campaign& campaign,
                                         const std::vector<v1::CampaignMember>& members) {
  return Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("INSERT INTO campaigns(id, spec, state, state_reason, "
                                       "current_wave, created_ms) VALUES (?, ?, ?, ?, ?, ?)"));
    RETURN_IF_ERROR(s.Bind(1, campaign.id())
                        .BindBlob(2, Spec(campaign).SerializeAsString())
                        .Bind(3, campaign.state())
                        .Bind(4, campaign.state_reason())
                        .Bind(5, campaign.current_wave())
                        .Bind(6, campaign.created_unix_ms())
                        .Exec());
    return SaveMembers(c, campaign.id(), members);
  });
}

absl::StatusOr<std::vector<v1::Campaign>> SqliteStore::ListCampaigns() {
  std::vector<v1::Campaign> out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT spec, state, state_reason, current_wave, "
                                       "acknowledged_failures FROM campaigns "
                                       "ORDER BY created_ms, id"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      v1::Campaign camp;
      camp.ParseFromString(s.Text(0));
      camp.set_state(static_cast<v1::CampaignState>(s.Int(1)));
      camp.set_state_reason(s.Text(2));
      camp.set_current_wave(static_cast<int32_t>(s.Int(3)));
      camp.set_acknowledged_failures(static_cast<int32_t>(s.Int(4)));
      out.push_back(std::move(camp));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<v1::CampaignMember>> SqliteStore::ListMembers(
    const std::string& campaign_id) {
  std::vector<v1::CampaignMember> out;
  RETURN_IF_ERROR(Read([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT endpoint_id, wave, state, run_id, reason, "
                                       "error_class, started_ms FROM campaign_members "
                                       "WHERE campaign_id = ? ORDER BY wave, endpoint_id"));
    s.Bind(1, campaign_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      v1::CampaignMember m;
      m.set_endpoint_id(s.Text(0));
      m.set_wave(static_cast<int32_t>(s.Int(1)));
      m.set_state(static_cast<v1::MemberState>(s.Int(2)));
      m.set_run_id(s.Text(3));
      m.set_reason(s.Text(4));
      m.set_error_class(static_cast<v1::ErrorClass>(s.Int(5)));
      m.set_started_unix_ms(s.Int(6));
      out.push_back(std::move(m));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status SqliteStore::SaveCampaign(const v1::Campaign& campaign,
                                       const std::vector<v1::CampaignMember>& members) {
  return Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("UPDATE campaigns SET state = ?, state_reason = ?, "
                                       "current_wave = ?, acknowledged_failures = ? WHERE id = ?"));
    RETURN_IF_ERROR(s.Bind(1, campaign.state())
                        .Bind(2, campaign.state_reason())
                        .Bind(3, campaign.current_wave())
                        .Bind(4, campaign.acknowledged_failures())
                        .Bind(5, campaign.id())
                        .Exec());
    if (sqlite3_changes(c.raw()) == 0) {
      return absl::NotFoundError(absl::StrCat("campaign ", campaign.id(), " not found"));
    }
    return SaveMembers(c, campaign.id(), members);
  });
}

}  // namespace purser::db
