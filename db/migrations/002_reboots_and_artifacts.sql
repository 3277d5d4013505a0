-- Reboot policies and artifacts.
ALTER TABLE runs ADD COLUMN reboot_policy BLOB;          -- purser.v1.RebootPolicy
ALTER TABLE runs ADD COLUMN artifacts BLOB;              -- purser.v1.StringMap: name -> sha256
ALTER TABLE jobs ADD COLUMN after_reboot INTEGER NOT NULL DEFAULT 0;  -- the previous step asked for a reboot
ALTER TABLE jobs ADD COLUMN reboot_kb TEXT NOT NULL DEFAULT '';       -- update that must have taken by then
ALTER TABLE endpoints ADD COLUMN reboot_allowed INTEGER NOT NULL DEFAULT 0;

CREATE TABLE artifacts (
  sha256 TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  size INTEGER NOT NULL,
  uploaded_ms INTEGER NOT NULL,
  uploaded_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX artifacts_by_name ON artifacts(name, uploaded_ms);
