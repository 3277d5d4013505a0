-- Artifacts are keyed by (name, sha256): the same bytes may be known under
-- several names (a plan may name either), and each name keeps its history.
CREATE TABLE artifacts_by_name_and_hash (
  name TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  uploaded_ms INTEGER NOT NULL,
  uploaded_by TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (name, sha256)
);
INSERT INTO artifacts_by_name_and_hash(name, sha256, size, uploaded_ms, uploaded_by)
  SELECT name, sha256, size, uploaded_ms, uploaded_by FROM artifacts;
DROP TABLE artifacts;
ALTER TABLE artifacts_by_name_and_hash RENAME TO artifacts;
CREATE INDEX artifacts_by_name ON artifacts(name, uploaded_ms);
CREATE INDEX artifacts_by_hash ON artifacts(sha256);
