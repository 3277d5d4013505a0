// The campaign rollout rules, as pure functions over a campaign, its members
// and their endpoints: which wave each member is in, what a member's endpoint
// says about it, the counters, and what to do next. The scheduler
// (campaigns.h) applies them; tests call them directly.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "purser/v1/campaign.pb.h"
#include "purser/v1/operator.pb.h"

namespace purser::server {

using EndpointMap = std::map<std::string, v1::Endpoint>;

// Members for `ids` (sorted): the canary in wave 0, then the policy's waves
// (percent of the rest, or counts), the last wave taking whatever is left.
// The canary is drawn from `runnable` first: a canary that is skipped proves
// nothing.
std::vector<v1::CampaignMember> AssignWaves(std::vector<std::string> ids,
                                            const v1::RolloutPolicy& policy,
                                            const std::set<std::string>& runnable = {});
// Whether the plan would run on the endpoint as it stands (supported, not
// revoked, inventory known, some step applies).
bool WillRun(const v1::Plan& plan, const std::map<std::string, std::string>& params,
             const v1::Endpoint& e);
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

// A running or pending member says where its endpoint stands (the step it
// is at, or waiting for a reboot) and that it is offline, since when.
void ExplainMember(const v1::Endpoint& e, int64_t now_ms, v1::CampaignMember* m);

}  // namespace purser::server
