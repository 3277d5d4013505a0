-- Campaigns and their members.
CREATE TABLE campaigns (
  id TEXT PRIMARY KEY,
  spec BLOB NOT NULL,                 -- purser.v1.Campaign: name, plan, params, target, policy
  state INTEGER NOT NULL,
  state_reason TEXT NOT NULL DEFAULT '',
    current_wave INTEGER NOT NULL DEFAULT 0,
  acknowledged_failures INTEGER NOT NULL DEFAULT 0,  -- failures of the current wave an operator resumed past
  created_ms INTEGER NOT NULL
);

CREATE TABLE campaign_members (
  campaign_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  wave INTEGER NOT NULL,
  state INTEGER NOT NULL,
  run_id TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  error_class INTEGER NOT NULL DEFAULT 0,
  started_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, endpoint_id)
);
CREATE INDEX members_by_endpoint ON campaign_members(endpoint_id);
