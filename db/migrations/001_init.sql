-- Purser schema, version 1. Times are Unix milliseconds.
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,          -- SHA-256 hex of the token secret; the secret is never stored
  max_uses INTEGER NOT NULL,
  uses INTEGER NOT NULL DEFAULT 0,
  expires_ms INTEGER NOT NULL,
  labels BLOB,                        -- purser.v1.StringMap
  description TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  created_by TEXT NOT NULL DEFAULT ''
);

CREATE TABLE endpoints (
  id TEXT PRIMARY KEY,
  hostname TEXT NOT NULL DEFAULT '',
  inventory BLOB,                     -- purser.v1.Inventory
  labels BLOB,                        -- purser.v1.StringMap
  state INTEGER NOT NULL,
  state_detail TEXT NOT NULL DEFAULT '',
  error_class INTEGER NOT NULL DEFAULT 0,
  run_id TEXT NOT NULL DEFAULT '',
  current_seq INTEGER NOT NULL DEFAULT 0,
  step_count INTEGER NOT NULL DEFAULT 0,
  current_step_id TEXT NOT NULL DEFAULT '',
  cert_serial TEXT NOT NULL DEFAULT '',
  last_seen_ms INTEGER NOT NULL DEFAULT 0,
  enrolled_ms INTEGER NOT NULL,
  token_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX endpoints_by_state ON endpoints(state, id);

CREATE TABLE certs (
  serial TEXT PRIMARY KEY,
  subject TEXT NOT NULL,              -- endpoint id or operator name
  role TEXT NOT NULL,                 -- agent, admin, operator, viewer, server
  issued_ms INTEGER NOT NULL,
  not_after_ms INTEGER NOT NULL,
  revoked_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX certs_by_subject ON certs(subject);

CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  plan_name TEXT NOT NULL,
  purpose INTEGER NOT NULL,
  params BLOB,                        -- purser.v1.StringMap; secret params hold secret names
  created_ms INTEGER NOT NULL,
  created_by TEXT NOT NULL DEFAULT ''
);

CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  step_count INTEGER NOT NULL,
  step BLOB NOT NULL,                 -- purser.v1.Step
  step_id TEXT NOT NULL,
  kind INTEGER NOT NULL,
  state INTEGER NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 1,
  max_attempts INTEGER NOT NULL,
  backoff_s INTEGER NOT NULL,
  timeout_s INTEGER NOT NULL,
  lease_expires_ms INTEGER NOT NULL DEFAULT 0,
  not_before_ms INTEGER NOT NULL DEFAULT 0,
  exit_code INTEGER NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT '',
  timed_out_attempts INTEGER NOT NULL DEFAULT 0,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX jobs_by_endpoint ON jobs(endpoint_id, state, seq);
CREATE INDEX jobs_by_lease ON jobs(state, lease_expires_ms);
CREATE INDEX jobs_by_run ON jobs(run_id, endpoint_id, seq);

-- One row per (job, attempt) reported: what makes reports idempotent.
CREATE TABLE reports (
  job_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  endpoint_id TEXT NOT NULL,
  outcome INTEGER NOT NULL,
  exit_code INTEGER NOT NULL,
  error_class INTEGER NOT NULL,
  message TEXT NOT NULL,
  output_tail TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  applied INTEGER NOT NULL,           -- 0: arrived stale (attempt no longer current)
  received_ms INTEGER NOT NULL,
  PRIMARY KEY (job_id, attempt)
);

-- The endpoint's timeline.
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  endpoint_id TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  state INTEGER NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX events_by_endpoint ON events(endpoint_id, id);

CREATE TABLE secrets (
  name TEXT PRIMARY KEY,
  sealed BLOB NOT NULL,               -- AES-256-GCM(nonce || ciphertext || tag)
  updated_ms INTEGER NOT NULL
);
