-- Re-verification of onboarded endpoints (drift).
ALTER TABLE endpoints ADD COLUMN verified_ms INTEGER NOT NULL DEFAULT 0;  -- last time it was found onboarded
