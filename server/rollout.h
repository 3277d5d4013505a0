// The campaign rollout rules, as pure functions over a campaign, its members
// and their endpoints: which wave each member is in, what a member's endpoint
// says about it, the counters, and what to do next. The scheduler
// (campaigns.h) applies them; tests call them directly.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "purser/v1/campaign.pb.h"
#include "purser/v1/operator.pb.h"

namespace purser::server {

using EndpointMap = std::map<std::string, v1::Endpoint>;

// Members for `ids` (sorted): the canary in wave 0, then the policy's waves
// (percent of the rest, or counts), the last wave taking whatever is left.
std::vector<v1::CampaignMember> AssignWaves(std::vector<std::string> ids,
                                            const v1::RolloutPolicy& policy);
// The last wave's number.
int LastWave(const v1::RolloutPolicy& policy);

// Whether an endpoint matches a campaign's target (explicit ids aside).
bool MatchesTarget(const v1::CampaignTarget& target, const v1::Endpoint& e);

// Running members whose run ended take its outcome. Returns the indices changed.
std::vector<int> RefreshMembers(const EndpointMap& endpoints,
                                std::vector<v1::CampaignMember>* members);

// Counters, per-wave progress and ETA into `campaign`.
void Count(const std::vector<v1::CampaignMember>& members, const EndpointMap& endpoints,
           int64_t now_ms, v1::Campaign* campaign);

struct NextStep {
  v1::CampaignState state;
  std::string reason;
  int current_wave = 0;
  std::vector<int> start;  // indices of members to start now
};

// What the campaign does now. Only a RUNNING campaign moves.
NextStep Decide(const v1::Campaign& campaign, const std::vector<v1::CampaignMember>& members,
                int64_t now_ms);

bool IsFinal(v1::CampaignState state);

}  // namespace purser::server
