-- Plans as they were when a run or campaign started, by the SHA-256 of their
-- content: a campaign's later waves and an endpoint's re-verification run the
-- plan that was started (and proven by the canary), not one uploaded since.
CREATE TABLE plan_versions (
  sha256 TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  plan BLOB NOT NULL,                 -- purser.v1.Plan
  created_ms INTEGER NOT NULL
);
ALTER TABLE runs ADD COLUMN plan_sha256 TEXT NOT NULL DEFAULT '';
