-- The audit log (append-only: no statement of the server updates or deletes it)
-- and clone detection.
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  at_ms INTEGER NOT NULL,
  who TEXT NOT NULL,
  role TEXT NOT NULL,
  cert_serial TEXT NOT NULL,
  method TEXT NOT NULL,
  request_json TEXT NOT NULL,
  result_code INTEGER NOT NULL,
  result_message TEXT NOT NULL
);
CREATE INDEX audit_by_who ON audit(who, id);

ALTER TABLE endpoints ADD COLUMN agent_nonce TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN clone_suspected INTEGER NOT NULL DEFAULT 0;
